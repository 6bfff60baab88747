# Reference values for tests/estimators/test_survival_weighted.py (case weights, delayed entry,
# Fleming-Harrington G-rho, Nelson-Aalen), computed with R's survival package.
#
# Inputs: survival_weighted_{veteran,heart,gbsg2}.csv, real data sets exported from PyPI
# packages by survival_weighted_data.py (R and Python read the identical rows).
# Run from tests/reference/:  Rscript survival_weighted.R
# Writes: survival_weighted.json (the Python tests never call R).
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") >= "3.2")

vet <- read.csv("survival_weighted_veteran.csv")
heart <- read.csv("survival_weighted_heart.csv")
gbsg <- read.csv("survival_weighted_gbsg2.csv")
stopifnot(any(vet$w != floor(vet$w)), all(vet$wi == floor(vet$wi)), any(heart$w != floor(heart$w)))

# every curve of a survfit object, one element per row of R's output
curves <- function(f, call_note) {
  # curve labels as (name, number of rows) runs; the Python test expands them
  k <- if (is.null(f$strata)) c(all = length(f$time)) else f$strata
  list(
    call = call_note,
    strata = as.list(names(k)), strata_rows = as.list(unname(k)), time = f$time, n_risk = f$n.risk, n_event = f$n.event, n_censor = f$n.censor,
    surv = f$surv, std_err = f$std.err, logse = if (is.null(f$logse)) TRUE else f$logse,
    lower = f$lower, upper = f$upper, cumhaz = f$cumhaz, std_chaz = f$std.chaz
  )
}
medians <- function(f) {
  tab <- summary(f)$table
  if (is.null(dim(tab))) tab <- t(as.matrix(tab))
  list(median = unname(tab[, "median"]), lcl = unname(tab[, "0.95LCL"]),
       ucl = unname(tab[, "0.95UCL"]))
}
diffs <- function(s, call_note) {
  list(call = call_note, chisq = s$chisq, obs = as.vector(if (is.matrix(s$obs)) rowSums(s$obs) else s$obs),
       exp = as.vector(if (is.matrix(s$exp)) rowSums(s$exp) else s$exp),
       var = as.vector(s$var), n = as.vector(s$n), df = length(s$n) - 1)
}
out <- list(r_version = R.version.string, survival_version = as.character(packageVersion("survival")))

# ---- Kaplan-Meier ---------------------------------------------------------------------------
# non-integer weights: R's default is robust = TRUE (IJ variance, one cluster per row)
f <- survfit(Surv(time, status) ~ trt, data = vet, weights = w)
stopifnot(!f$logse)
out$km_vet_w <- c(curves(f, "survfit(Surv(time, status) ~ trt, weights = w)"), medians(f))
f <- survfit(Surv(time, status) ~ trt, data = vet, weights = w, conf.type = "log-log")
out$km_vet_w_loglog <- curves(f, "survfit(Surv(time, status) ~ trt, weights = w, conf.type = 'log-log')")
f <- survfit(Surv(time, status) ~ trt, data = vet, weights = w, conf.type = "plain")
out$km_vet_w_plain <- curves(f, "survfit(Surv(time, status) ~ trt, weights = w, conf.type = 'plain')")
# integer weights: R's default treats them as frequency weights (Greenwood, robust = FALSE)
f <- survfit(Surv(time, status) ~ trt, data = vet, weights = wi)
stopifnot(f$logse)
out$km_vet_wi_freq <- curves(f, "survfit(Surv(time, status) ~ trt, weights = wi)")
f <- survfit(Surv(time, status) ~ trt, data = vet, weights = wi, robust = TRUE)
out$km_vet_wi_robust <- curves(f, "survfit(Surv(time, status) ~ trt, weights = wi, robust = TRUE)")
# unweighted IJ
f <- survfit(Surv(time, status) ~ celltype, data = vet, robust = TRUE)
out$km_vet_robust <- curves(f, "survfit(Surv(time, status) ~ celltype, robust = TRUE)")
# (start, stop] data, unweighted (Greenwood) and weighted (IJ, one cluster per row)
f <- survfit(Surv(start, stop, event) ~ 1, data = heart)
out$km_heart <- c(curves(f, "survfit(Surv(start, stop, event) ~ 1)"), medians(f))
f <- survfit(Surv(start, stop, event) ~ surgery, data = heart)
out$km_heart_surgery <- curves(f, "survfit(Surv(start, stop, event) ~ surgery)")
f <- survfit(Surv(start, stop, event) ~ transplant, data = heart, weights = w)
out$km_heart_w <- curves(f, "survfit(Surv(start, stop, event) ~ transplant, weights = w)")
# several curves, larger data, ties
f <- survfit(Surv(time, cens) ~ horTh + tgrade, data = gbsg, weights = w)
out$km_gbsg_w <- c(curves(f, "survfit(Surv(time, cens) ~ horTh + tgrade, weights = w)"), medians(f))

# ---- Nelson-Aalen (ctype = 1): cumhaz and std.chaz; stype = 2 CI = plain CI for H ----------
na_ci <- function(f) {
  z <- qnorm(0.975)
  H <- f$cumhaz; se <- f$std.chaz
  list(log_lower = ifelse(H > 0, H * exp(-z * se / H), 0), log_upper = ifelse(H > 0, H * exp(z * se / H), 0),
       plain_lower = pmax(H - z * se, 0), plain_upper = H + z * se)
}
f <- survfit(Surv(time, status) ~ trt, data = vet, ctype = 1, stype = 2)
out$na_vet <- c(curves(f, "survfit(Surv(time, status) ~ trt, ctype = 1, stype = 2)"), na_ci(f),
                list(minus_log_lower = -log(f$lower), minus_log_upper = -log(f$upper)))
f <- survfit(Surv(time, status) ~ trt, data = vet, weights = w, ctype = 1)
out$na_vet_w <- c(curves(f, "survfit(Surv(time, status) ~ trt, weights = w, ctype = 1)"), na_ci(f))
f <- survfit(Surv(time, status) ~ trt, data = vet, weights = wi, ctype = 1)
out$na_vet_wi_freq <- curves(f, "survfit(Surv(time, status) ~ trt, weights = wi, ctype = 1)")
f <- survfit(Surv(start, stop, event) ~ 1, data = heart, ctype = 1)
out$na_heart <- c(curves(f, "survfit(Surv(start, stop, event) ~ 1, ctype = 1)"), na_ci(f))
f <- survfit(Surv(start, stop, event) ~ transplant, data = heart, weights = w, ctype = 1)
out$na_heart_w <- curves(f, "survfit(Surv(start, stop, event) ~ transplant, weights = w, ctype = 1)")
f <- survfit(Surv(time, cens) ~ horTh + tgrade, data = gbsg, weights = w, ctype = 1)
out$na_gbsg_w <- curves(f, "survfit(Surv(time, cens) ~ horTh + tgrade, weights = w, ctype = 1)")

# ---- survdiff: log-rank (rho = 0) and G-rho ---------------------------------------------------
out$sd_vet_rho0 <- diffs(survdiff(Surv(time, status) ~ trt, data = vet), "survdiff(Surv(time, status) ~ trt)")
out$sd_vet_rho1 <- diffs(survdiff(Surv(time, status) ~ trt, data = vet, rho = 1),
                         "survdiff(Surv(time, status) ~ trt, rho = 1)")
out$sd_vet_cell_rho1 <- diffs(survdiff(Surv(time, status) ~ celltype, data = vet, rho = 1),
                              "survdiff(Surv(time, status) ~ celltype, rho = 1)")
out$sd_gbsg_rho0 <- diffs(survdiff(Surv(time, cens) ~ horTh + strata(tgrade), data = gbsg),
                          "survdiff(Surv(time, cens) ~ horTh + strata(tgrade))")
out$sd_gbsg_rho1 <- diffs(survdiff(Surv(time, cens) ~ horTh + strata(tgrade), data = gbsg, rho = 1),
                          "survdiff(Surv(time, cens) ~ horTh + strata(tgrade), rho = 1)")
out$sd_gbsg_rho05 <- diffs(survdiff(Surv(time, cens) ~ tgrade, data = gbsg, rho = 0.5),
                           "survdiff(Surv(time, cens) ~ tgrade, rho = 0.5)")

write_json(out, "survival_weighted.json", digits = I(17), auto_unbox = TRUE, na = "string",
           pretty = FALSE)
cat("wrote survival_weighted.json\n")
