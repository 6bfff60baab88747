# Reference values for tests/estimators/test_numerics_reference.py, computed with R survival
# at its DEFAULT settings (coxph.control(): eps = 1e-9, iter.max = 20, toler.chol = eps^0.75,
# toler.inf = sqrt(eps), timefix = TRUE).
#
# Run from tests/reference/:  Rscript numerics_reference.R
# Writes: numerics_monotone.csv, numerics_aliased.csv, numerics_neartie.csv (the deterministic
#         test data; times written with 17 significant digits so that Python reads exactly the
#         same doubles) and numerics_reference.json (the frozen R results).
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") >= "3.2")
RNGversion("4.0.0")
w17 <- function(df, file) {  # every double with 17 significant digits: exact round trip
  out <- df
  for (nm in names(out)) if (is.double(out[[nm]])) out[[nm]] <- sprintf("%.17g", out[[nm]])
  write.csv(out, file, row.names = FALSE, quote = FALSE)
}
# coxph with its warnings captured (R warns "Loglik converged before variable ...; coefficient
# may be infinite" and "X matrix deemed to be singular; variable ...")
coxw <- function(expr) {  # expr: a coxph() call, evaluated lazily inside the handler
  msgs <- character(0)
  fit <- withCallingHandlers(expr, warning = function(w) {
    msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning")
  })
  list(fit = fit, warnings = msgs)
}
coxout <- function(cw) {
  fit <- cw$fit
  s <- summary(fit)$coefficients
  se <- rep(NA_real_, length(coef(fit)))
  se[!is.na(coef(fit))] <- sqrt(diag(vcov(fit)))[!is.na(coef(fit))]
  list(term = names(coef(fit)), coef = unname(coef(fit)), se = se,
       loglik = unname(fit$loglik), iter = fit$iter, warnings = cw$warnings,
       aliased = names(coef(fit))[is.na(coef(fit))])
}
out <- list(R = R.version.string, survival = as.character(packageVersion("survival")),
            control = coxph.control())

# ---------------------------------------------------------------------------------------------
# 1. Monotone likelihood: no events at all in group g = 1 (its log hazard ratio is -Inf).
set.seed(20240511)
n <- 120
mono <- data.frame(id = seq_len(n), g = rep(0:1, length.out = n),
                   z = round(rnorm(n), 3), s = rep(c("a", "b", "c"), each = n / 3))
mono$time <- ceiling(rexp(n, 0.05 * exp(0.5 * mono$z)))   # integer days: ties
mono$status <- as.integer(runif(n) < 0.7 & mono$g == 0)   # g = 1: all censored
w17(mono, "numerics_monotone.csv")
out$monotone <- list(
  one = coxout(coxw(coxph(Surv(time, status) ~ g, data = mono))),
  two = coxout(coxw(coxph(Surv(time, status) ~ z + g, data = mono))),
  two_strata = coxout(coxw(coxph(Surv(time, status) ~ z + g + strata(s), data = mono))),
  one_breslow = coxout(coxw(coxph(Surv(time, status) ~ g, data = mono, ties = "breslow")))
)

# ---------------------------------------------------------------------------------------------
# 2. Aliased terms: x2 = 2 x1 - [f == c] + 0.5 (collinear with x1 and f), sx constant within
#    every stratum, h = [f == b] as a second factor (aliased with f's b column).
set.seed(7)
n <- 300
al <- data.frame(id = seq_len(n), s = rep(c("s1", "s2", "s3", "s4"), length.out = n),
                 x1 = round(rnorm(n), 3), f = sample(c("a", "b", "c"), n, replace = TRUE))
al$x2 <- 2 * al$x1 - (al$f == "c") + 0.5
al$sx <- c(s1 = 0.3, s2 = 1.7, s3 = -0.4, s4 = 2.2)[al$s]
al$h <- ifelse(al$f == "b", "q", "p")
lin <- 0.5 * al$x1 + c(a = 0, b = 0.4, c = -0.3)[al$f]
tt <- rexp(n, 0.04 * exp(lin))
t2 <- rexp(n, 0.02)
cc <- runif(n, 5, 60)
al$time <- ceiling(pmin(tt, t2, cc))
al$cause <- ifelse(pmin(tt, t2) > cc, 0L, ifelse(tt < t2, 1L, 2L))
al$status <- as.integer(al$cause == 1)
w17(al, "numerics_aliased.csv")
out$aliased <- list(
  cox = coxout(coxw(coxph(Surv(time, status) ~ x1 + f + x2 + sx + h + strata(s), data = al))),
  cox_unstratified = coxout(coxw(coxph(Surv(time, status) ~ x1 + f + x2 + h, data = al)))
)
al$ftype <- factor(al$cause, 0:2, c("censor", "one", "two"))
fg <- finegray(Surv(time, ftype) ~ ., data = al, etype = "one")
out$aliased$finegray <- coxout(coxw(coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + f + x2 + h, data = fg,
                                    weights = fgwt, cluster = id)))

# ---------------------------------------------------------------------------------------------
# 3. Near-tied times: durations computed in floating point. Whole days d, but for about half of
#    the rows the duration is computed as sqrt(d)^2 or (d / 10) * 10 or 0.1 * (10 d) (each can
#    differ from d in the last bit, e.g. sqrt(2)^2 = 2.0000000000000004), as durations from
#    dates stored as fractional numbers do.
set.seed(314)
n <- 200
nt <- data.frame(id = seq_len(n), grp = rep(c("A", "B"), length.out = n),
                 x = round(rnorm(n), 3))
d <- pmin(ceiling(rexp(n, 0.06 * exp(0.4 * nt$x + 0.3 * (nt$grp == "B")))), 40)
how <- sample(0:3, n, replace = TRUE)
nt$time <- ifelse(how == 0, d, ifelse(how == 1, sqrt(d)^2, ifelse(how == 2, (d / 10) * 10,
                                                                   0.1 * (10 * d))))
nt$status <- as.integer(d < 40 & runif(n) < 0.8)
nt$cause <- ifelse(nt$status == 1, 1L, ifelse(runif(n) < 0.3, 2L, 0L))
stopifnot(any(nt$time != d))   # the data do contain near-ties
w17(nt, "numerics_neartie.csv")
kmout <- function(fit) {
  st <- if (is.null(fit$strata)) rep("all", length(fit$time)) else rep(names(fit$strata), fit$strata)
  list(curve = st, time = sprintf("%.17g", fit$time), n_risk = fit$n.risk, n_event = fit$n.event,
       surv = fit$surv, std_err = fit$std.err, lower = fit$lower, upper = fit$upper)
}
km_fixed <- survfit(Surv(time, status) ~ grp, data = nt)
km_raw <- survfit(Surv(time, status) ~ grp, data = nt, timefix = FALSE)
sd <- survdiff(Surv(time, status) ~ grp, data = nt)
rm <- summary(km_fixed, rmean = 30)$table
nt$ftype <- factor(nt$cause, 0:2, c("censor", "one", "two"))
ci <- survfit(Surv(time, ftype) ~ 1, data = nt)
fgn <- finegray(Surv(time, ftype) ~ ., data = nt, etype = "one")
out$neartie <- list(
  n_distinct_raw = length(unique(nt$time)), n_distinct_fixed = length(unique(d)),
  km = kmout(km_fixed), km_timefix_false = kmout(km_raw),
  cox = coxout(coxw(coxph(Surv(time, status) ~ x + grp, data = nt))),
  cox_breslow = coxout(coxw(coxph(Surv(time, status) ~ x + grp, data = nt, ties = "breslow"))),
  logrank = list(chisq = sd$chisq, obs = sd$obs, exp = unname(sd$exp)),
  rmst = list(rmean = unname(rm[, "rmean"]), se = unname(rm[, "se(rmean)"])),
  cif = list(time = sprintf("%.17g", ci$time), p1 = ci$pstate[, 2], se1 = ci$std.err[, 2]),
  finegray = coxout(coxw(coxph(Surv(fgstart, fgstop, fgstatus) ~ x + grp, data = fgn,
                         weights = fgwt, cluster = id)))
)

# jsonlite writes at most 15 significant digits: times (compared exactly) are written as
# "%.17g" strings above
write_json(out, "numerics_reference.json", digits = NA, auto_unbox = TRUE, pretty = FALSE,
           null = "null", na = "null")
cat("wrote numerics_reference.json, numerics_monotone.csv, numerics_aliased.csv,",
    "numerics_neartie.csv\n")
