# Reference values for tests/estimators/test_survival*.py, computed with R's survival package.
#
# Run from tests/reference/:  Rscript survival_reference.R
# Writes: survival_ties.csv, survival_counting.csv (the deterministic test data) and
#         survival_reference.json (the frozen R results the Python tests compare against).
# The Python tests never call R: they read these frozen files.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") >= "3.2")
ctl <- coxph.control(eps = 1e-12, iter.max = 100, toler.chol = 1e-13)

# ---------------------------------------------------------------------------------------------
# 1. Right-censored data with heavy ties (integer days 1..80), competing causes, strata, clusters
set.seed(20110601)
n <- 900
ties <- data.frame(
  id = seq_len(n),
  clu = rep(seq_len(n / 3), each = 3)[sample.int(n)],
  stratum = sample(c("s1", "s2", "s3", "s4"), n, replace = TRUE, prob = c(.4, .3, .2, .1)),
  stratum2 = sprintf("k%02d", sample.int(30, n, replace = TRUE)),
  grp = sample(c("A", "B", "C"), n, replace = TRUE),
  x1 = round(rnorm(n), 3),
  x2 = rbinom(n, 1, 0.4),
  x3 = sample(20:60, n, replace = TRUE),
  w = round(runif(n, 0.5, 2), 2)
)
lin <- 0.4 * ties$x1 - 0.5 * ties$x2 + 0.02 * (ties$x3 - 40) +
  c(A = 0, B = 0.3, C = -0.2)[ties$grp] + c(s1 = 0, s2 = 0.2, s3 = -0.3, s4 = 0.1)[ties$stratum]
t1 <- rexp(n, 0.03 * exp(lin))          # cause 1 (e.g. job entry)
t2 <- rexp(n, 0.012 * exp(-0.3 * ties$x2))  # cause 2 (other exit)
tc <- runif(n, 5, 120)                   # censoring
tt <- pmin(t1, t2, tc, 80)
ties$time <- ceiling(tt)                 # integer days -> heavy ties
ties$cause <- ifelse(tt == t1, 1L, ifelse(tt == t2, 2L, 0L))
ties$status <- as.integer(ties$cause == 1)
ties$week <- ceiling(ties$time / 7)      # integer weeks -> very heavy ties (d up to ~40)
write.csv(ties, "survival_ties.csv", row.names = FALSE)

# ---------------------------------------------------------------------------------------------
# 2. Counting-process data: several (start, stop] rows per id, delayed entry, time-varying z
set.seed(17)
m <- 300
rows <- list()
for (i in seq_len(m)) {
  entry <- if (runif(1) < 0.3) sample(1:10, 1) else 0
  x <- round(rnorm(1), 3)
  s <- if (runif(1) < 0.5) "a" else "b"
  ncut <- sample(0:2, 1)
  total <- entry + ceiling(rexp(1, 0.04 * exp(0.5 * x))) + 1
  cuts <- sort(unique(c(entry, entry + sample.int(max(total - entry - 1, 1), ncut, replace = TRUE), total)))
  ev <- as.integer(runif(1) < 0.7)
  for (k in seq_len(length(cuts) - 1)) {
    rows[[length(rows) + 1]] <- data.frame(id = i, start = cuts[k], stop = cuts[k + 1],
      status = if (k == length(cuts) - 1) ev else 0L, x = x, z = k - 1 + round(runif(1), 1),
      stratum = s)
  }
}
cp <- do.call(rbind, rows)
write.csv(cp, "survival_counting.csv", row.names = FALSE)

out <- list(meta = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                        created = format(Sys.time(), "%Y-%m-%d")))

coxout <- function(fit) {
  v <- fit$var; nv <- if (is.null(fit$naive.var)) fit$var else fit$naive.var
  list(coef = unname(coef(fit)), names = names(coef(fit)), se = unname(sqrt(diag(nv))),
       robust_se = if (is.null(fit$naive.var)) NULL else unname(sqrt(diag(v))),
       loglik = fit$loglik, n = fit$n, nevent = fit$nevent, var = unname(v))
}
tiesf <- transform(ties, grp = factor(grp))
out$cox <- list(
  efron = coxout(coxph(Surv(time, status) ~ x1 + x2 + x3 + grp, tiesf, control = ctl)),
  breslow = coxout(coxph(Surv(time, status) ~ x1 + x2 + x3 + grp, tiesf, ties = "breslow", control = ctl)),
  efron_strata = coxout(coxph(Surv(time, status) ~ x1 + x2 + x3 + grp + strata(stratum), tiesf, control = ctl)),
  breslow_strata = coxout(coxph(Surv(time, status) ~ x1 + x2 + x3 + grp + strata(stratum), tiesf, ties = "breslow", control = ctl)),
  efron_strata_cluster = coxout(coxph(Surv(time, status) ~ x1 + x2 + x3 + grp + strata(stratum), tiesf, cluster = clu, control = ctl)),
  breslow_strata_cluster = coxout(coxph(Surv(time, status) ~ x1 + x2 + x3 + grp + strata(stratum), tiesf, cluster = clu, ties = "breslow", control = ctl)),
  efron_robust = coxout(coxph(Surv(time, status) ~ x1 + x2 + x3 + grp, tiesf, robust = TRUE, control = ctl)),
  efron_week_strata_cluster = coxout(coxph(Surv(week, status) ~ x1 + x2 + x3 + grp + strata(stratum), tiesf, cluster = clu, control = ctl)),
  efron_many_strata = coxout(coxph(Surv(time, status) ~ x1 + x2 + x3 + strata(stratum2), tiesf, cluster = clu, control = ctl)),
  efron_weighted_cluster = coxout(coxph(Surv(time, status) ~ x1 + x2 + x3 + grp + strata(stratum), tiesf, weights = w, cluster = clu, control = ctl)),
  counting_efron = coxout(coxph(Surv(start, stop, status) ~ x + z + strata(stratum), cp, cluster = id, control = ctl)),
  counting_breslow = coxout(coxph(Surv(start, stop, status) ~ x + z, cp, cluster = id, ties = "breslow", control = ctl)),
  cause_specific_2 = coxout(coxph(Surv(time, cause == 2) ~ x1 + x2 + x3 + grp, tiesf, control = ctl))
)

# ---------------------------------------------------------------------------------------------
# Kaplan-Meier curves (full tables) with log, log-log and plain CIs; medians with CIs
kmout <- function(fit) {
  st <- if (is.null(fit$strata)) rep("all", length(fit$time)) else rep(names(fit$strata), fit$strata)
  tab <- summary(fit, censored = TRUE)$table
  if (is.null(dim(tab))) tab <- t(as.matrix(tab))
  list(curve = st, time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
       n_censor = fit$n.censor, surv = fit$surv, std_err_cumhaz = fit$std.err,
       lower = fit$lower, upper = fit$upper,
       median = unname(tab[, "median"]), median_lower = unname(tab[, grep("LCL", colnames(tab))]),
       median_upper = unname(tab[, grep("UCL", colnames(tab))]),
       median_curve = if (is.null(fit$strata)) "all" else names(fit$strata))
}
out$km <- list(
  log = kmout(survfit(Surv(time, status) ~ grp, ties)),
  loglog = kmout(survfit(Surv(time, status) ~ grp, ties, conf.type = "log-log")),
  plain = kmout(survfit(Surv(time, status) ~ grp, ties, conf.type = "plain")),
  week_log = kmout(survfit(Surv(week, status) ~ 1, ties)),
  week_loglog = kmout(survfit(Surv(week, status) ~ 1, ties, conf.type = "log-log")),
  alpha10 = kmout(survfit(Surv(time, status) ~ grp, ties, conf.int = 0.90)),
  grp_stratum = kmout(survfit(Surv(time, status) ~ grp + stratum, ties))
)
sm <- summary(survfit(Surv(time, status) ~ grp, ties), times = c(0, 10, 30, 45.5, 79, 80))
out$km_at <- list(curve = as.character(sm$strata), time = sm$time, n_risk = sm$n.risk,
                  n_event = sm$n.event, surv = sm$surv, std_err = sm$std.err,
                  lower = sm$lower, upper = sm$upper)

# ---------------------------------------------------------------------------------------------
# Log-rank: survdiff, unstratified and stratified
sdout <- function(sd) list(chisq = sd$chisq, df = length(sd$n) - 1,
                           p = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE),
                           obs = if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs,
                           exp = if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp,
                           var = unname(sd$var))
out$logrank <- list(
  plain = sdout(survdiff(Surv(time, status) ~ grp, ties)),
  strata = sdout(survdiff(Surv(time, status) ~ grp + strata(stratum), ties)),
  strata_many = sdout(survdiff(Surv(time, status) ~ grp + strata(stratum2), ties)),
  two_week_strata = sdout(survdiff(Surv(week, status) ~ x2 + strata(stratum), ties)),
  counting = NULL
)

# ---------------------------------------------------------------------------------------------
# RMST from print(survfit, rmean=tau); cross-check with the Klein-Moeschberger formula by hand
rm_tab <- function(fit, tau) {
  tb <- summary(fit, rmean = tau)$table
  list(curve = names(fit$strata), rmean = unname(tb[, "rmean"]), se = unname(tb[, "se(rmean)"]))
}
km_grp <- survfit(Surv(time, status) ~ grp, ties)
klein <- function(time, status, tau) {
  f <- survfit(Surv(time, status) ~ 1)
  tj <- f$time[f$time <= tau & f$n.event > 0]
  S <- stepfun(f$time, c(1, f$surv))
  grid <- sort(unique(c(0, f$time[f$time <= tau], tau)))
  area_from <- function(t) { g <- grid[grid >= t]; sum(diff(g) * S(g[-length(g)])) }
  A <- sapply(tj, area_from)
  d <- f$n.event[match(tj, f$time)]; Y <- f$n.risk[match(tj, f$time)]
  h <- ifelse(Y > d, d / (Y * (Y - d)), 0)
  c(rmst = area_from(0), se = sqrt(sum(A^2 * h)))
}
out$rmst <- list(
  tau30 = rm_tab(km_grp, 30), tau60 = rm_tab(km_grp, 60), tau45_5 = rm_tab(km_grp, 45.5),
  tau80 = rm_tab(km_grp, 80),
  klein_tau30 = lapply(split(ties, ties$grp), function(s) unname(klein(s$time, s$status, 30))),
  week_tau8 = rm_tab(survfit(Surv(week, status) ~ x2, ties), 8)
)

# ---------------------------------------------------------------------------------------------
# Cumulative incidence (Aalen-Johansen) from multi-state survfit; IJ standard errors, log CIs
cifout <- function(fit) {
  st <- if (is.null(fit$strata)) rep("all", length(fit$time)) else rep(names(fit$strata), fit$strata)
  list(curve = st, time = fit$time, n_risk = fit$n.risk[, 1],
       p1 = fit$pstate[, 2], p2 = fit$pstate[, 3], se1 = fit$std.err[, 2], se2 = fit$std.err[, 3],
       lower1 = fit$lower[, 2], upper1 = fit$upper[, 2], lower2 = fit$lower[, 3], upper2 = fit$upper[, 3],
       s0 = fit$pstate[, 1])
}
out$cif <- list(
  all = cifout(survfit(Surv(time, factor(cause)) ~ 1, ties)),
  grp = cifout(survfit(Surv(time, factor(cause)) ~ grp, ties)),
  week = cifout(survfit(Surv(week, factor(cause)) ~ 1, ties))
)

# ---------------------------------------------------------------------------------------------
# Fine-Gray: finegray expansion + weighted coxph with cluster(id) (robust SE)
fgfit <- function(formula_fg, formula_cox, etype, data) {
  fg <- finegray(formula_fg, data = data, etype = etype)
  fit <- coxph(formula_cox, data = fg, weights = fgwt, cluster = id, control = ctl)
  c(coxout(fit), list(n_expanded = nrow(fg)))
}
tiesf$ftype <- factor(tiesf$cause, 0:2, c("censor", "one", "two"))
tiesf$wtype <- factor(tiesf$cause, 0:2, c("censor", "one", "two"))
out$finegray <- list(
  cause1 = fgfit(Surv(time, ftype) ~ ., Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3 + grp, "one", tiesf),
  cause2 = fgfit(Surv(time, ftype) ~ ., Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3 + grp, "two", tiesf),
  cause1_strata = fgfit(Surv(time, ftype) ~ . + strata(stratum),
                        Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3 + grp + strata(stratum), "one", tiesf),
  cause1_week = fgfit(Surv(week, ftype) ~ ., Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3 + grp, "one", tiesf)
)

write_json(out, "survival_reference.json", digits = NA, auto_unbox = TRUE, pretty = FALSE,
           null = "null", na = "null")
cat("wrote survival_reference.json, survival_ties.csv, survival_counting.csv\n")
