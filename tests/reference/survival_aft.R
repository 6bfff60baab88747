# Reference values for tests/estimators/test_survival_aft.py: parametric accelerated failure
# time models fitted with R survival::survreg on real data sets.
#
# Run from tests/reference/:  python survival_aft_data.py && Rscript survival_aft.R
# Reads:  survival_aft_lung.csv, survival_aft_veteran.csv, survival_aft_rossi.csv (exported
#         from PyPI packages by survival_aft_data.py, so R and Python read identical rows).
# Writes: survival_aft.json (the frozen R results; the Python tests never call R).
#
# For each fit: coefficients (location, log-time scale) and Log(scale), SEs sqrt(diag(vcov)),
# the full vcov, log-likelihoods (model and intercept-only), AIC, n, events.
# Predictions: S(t | x) computed by hand from the linear predictor and the scale, with the
# pointwise interval by the delta method on log(-log S) (the gradient taken by central finite
# differences in R, independently of the analytic gradient in Python), and
# predict(type = "quantile" / "uquantile", se.fit = TRUE).
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") >= "3.2")
ctl <- survreg.control(rel.tolerance = 1e-13, maxiter = 200)

lung <- read.csv("survival_aft_lung.csv")
lung$sex <- factor(lung$sex)
veteran <- read.csv("survival_aft_veteran.csv")
veteran$celltype <- factor(veteran$celltype)
rossi <- read.csv("survival_aft_rossi.csv")
rossi$wexp <- factor(rossi$wexp)

dists <- c("weibull", "lognormal", "loglogistic", "exponential")

# standard survivor function of the error W (log T = lp + sigma W)
surv0 <- function(dist, z) {
  switch(dist,
    weibull = exp(-exp(z)), exponential = exp(-exp(z)),
    lognormal = pnorm(z, lower.tail = FALSE),
    loglogistic = plogis(z, lower.tail = FALSE))
}

fit_one <- function(formula, data, dist, weights = NULL) {
  if (is.null(weights)) {
    f <- survreg(formula, data = data, dist = dist, control = ctl)
  } else {
    data$.w <- data[[weights]]
    f <- survreg(formula, data = data, dist = dist, control = ctl, weights = .w)
  }
  f
}

summarise <- function(f, dist) {
  V <- vcov(f)
  est <- c(coef(f), if (dist != "exponential") c("Log(scale)" = log(f$scale)))
  list(
    distribution = dist,
    terms = I(names(est)),
    estimate = I(unname(est)),
    std_error = I(unname(sqrt(diag(V)))),
    vcov = unname(V),
    scale = f$scale,
    loglik = f$loglik[2],
    loglik_null = f$loglik[1],
    aic = AIC(f),
    df = f$df,
    n = nrow(f$y),
    events = sum(f$y[, 2]),
    iterations = f$iter,
    n_dropped = length(f$na.action)
  )
}

# S(t | x) and its delta-method interval on log(-log S), by hand
surv_pred <- function(f, dist, newdata, times, alpha = 0.05) {
  tt <- delete.response(terms(f))
  X <- model.matrix(tt, model.frame(tt, newdata, xlev = f$xlevels))
  theta <- c(coef(f), if (dist != "exponential") log(f$scale))
  p <- length(coef(f))
  V <- vcov(f)
  loghaz <- function(th, x, t) {
    lp <- sum(x * th[1:p])
    sig <- if (dist == "exponential") 1 else exp(th[p + 1])
    log(-log(surv0(dist, (log(t) - lp) / sig)))
  }
  rows <- list()
  zc <- qnorm(1 - alpha / 2)
  for (i in seq_len(nrow(X))) {
    for (t in times) {
      g <- sapply(seq_along(theta), function(j) {
        h <- 1e-6 * max(1, abs(theta[j]))
        up <- theta; up[j] <- up[j] + h
        dn <- theta; dn[j] <- dn[j] - h
        (loghaz(up, X[i, ], t) - loghaz(dn, X[i, ], t)) / (2 * h)
      })
      lh <- loghaz(theta, X[i, ], t)
      se <- sqrt(sum(g * (V %*% g)))
      rows[[length(rows) + 1]] <- data.frame(
        row = i, time = t, surv = exp(-exp(lh)), log_cumhaz = lh, se_log_cumhaz = se,
        conf_low = exp(-exp(lh + zc * se)), conf_high = exp(-exp(lh - zc * se)))
    }
  }
  do.call(rbind, rows)
}

quant_pred <- function(f, newdata, p) {
  q <- predict(f, newdata = newdata, type = "quantile", p = p, se.fit = TRUE)
  u <- predict(f, newdata = newdata, type = "uquantile", p = p, se.fit = TRUE)
  list(p = p, quantile = unname(q$fit), quantile_se = unname(q$se.fit),
       uquantile = unname(u$fit), uquantile_se = unname(u$se.fit))
}

cases <- list(
  lung = list(formula = Surv(time, event) ~ sex + age + ph_ecog, data = lung,
              weights = NULL, times = c(30, 180, 365, 1000), newrows = c(1, 20, 90, 150)),
  veteran = list(formula = Surv(time, status) ~ celltype + karno, data = veteran,
                 weights = NULL, times = c(10, 60, 200, 600), newrows = c(1, 40, 80, 120)),
  rossi = list(formula = Surv(week, arrest) ~ fin + age + prio + wexp, data = rossi,
               weights = NULL, times = c(5, 26, 52, 104), newrows = c(1, 3, 200, 400)),
  veteran_weighted = list(formula = Surv(time, status) ~ celltype + karno, data = veteran,
                          weights = "w", times = c(10, 60, 200, 600), newrows = c(1, 40, 80, 120))
)

out <- list(meta = list(R = R.version.string,
                        survival = as.character(packageVersion("survival")),
                        control = "survreg.control(rel.tolerance = 1e-13, maxiter = 200)"))
for (nm in names(cases)) {
  cs <- cases[[nm]]
  for (d in dists) {
    f <- fit_one(cs$formula, cs$data, d, cs$weights)
    key <- paste(nm, d, sep = "_")
    res <- summarise(f, d)
    nd <- cs$data[cs$newrows, ]
    res$predict <- list(rows = cs$newrows, times = cs$times,
                        survival = surv_pred(f, d, nd, cs$times),
                        quantile = quant_pred(f, nd, c(0.1, 0.5, 0.9)))
    out[[key]] <- res
  }
}

# intercept-only fits (the aft_compare helper and the no-covariate path)
for (d in dists) {
  out[[paste("rossi_null", d, sep = "_")]] <- summarise(
    survreg(Surv(week, arrest) ~ 1, data = rossi, dist = d, control = ctl), d)
}

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "survival_aft.json")
cat("wrote survival_aft.json\n")
