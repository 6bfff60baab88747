# Reference values for tests/estimators/test_ranking.py (wpeval.estimators.ranking).
#
# Run from this folder:  Rscript ranking_reference.R   (or `make reference`)
# Needs: r-cran-metafor, r-cran-estimatr, r-cran-jsonlite (Debian packages).
# Writes (committed beside this script, read by the tests; the tests never call R):
#   ranking_metafor.json   random-effects meta-analysis (DerSimonian-Laird and REML tau^2),
#                          pooled mean, its SE, and the empirical-Bayes predictions (BLUPs)
#                          with their SEs, from metafor::rma + metafor::blup, for two data sets
#   ranking_two_prime.csv  a small simulated two-prime CPA (stratum, prime, y)
#   ranking_estimatr.json  estimatr::difference_in_means(y ~ z, blocks = stratum) on that CSV
#
# Versions used for the committed files: R 4.2, metafor 3.8-1, estimatr 1.0.0, jsonlite 1.8.4.

suppressPackageStartupMessages({
  library(metafor)
  library(estimatr)
  library(jsonlite)
})

meta_case <- function(yi, vi, label) {
  out <- list(label = label, yi = as.numeric(yi), vi = as.numeric(vi))
  for (m in c("DL", "REML")) {
    fit <- rma(yi = yi, vi = vi, method = m,
               control = list(threshold = 1e-12, maxiter = 1000))
    b <- blup(fit)
    out[[m]] <- list(tau2 = fit$tau2, mu = as.numeric(fit$beta), se_mu = fit$se,
                     QE = fit$QE, pred = as.numeric(b$pred), se_pred = as.numeric(b$se))
  }
  out
}

# 1. The BCG vaccine trials (log risk ratios): metafor's own worked example.
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg <- meta_case(dat$yi, dat$vi, "dat.bcg log risk ratios (13 trials)")

# 2. Forty contract-like effects (job-outcome rate differences from a CPA average):
#    true effects N(0, 0.02^2), standard errors between 0.005 and 0.03.
set.seed(20110601)
k <- 40
se <- runif(k, 0.005, 0.03)
theta <- rnorm(k, 0, 0.02)
y <- theta + rnorm(k, 0, se)
contracts <- meta_case(y, se^2, "40 simulated contract effects")

write_json(list(bcg = bcg, contracts = contracts), "ranking_metafor.json",
           digits = NA, auto_unbox = TRUE, pretty = TRUE)

# 3. Two primes randomised within 4 strata of unequal size and unequal shares; binary outcome.
set.seed(7)
sizes <- c(40, 60, 25, 90)
share_a <- c(0.5, 0.6, 0.4, 0.5)
rows <- list()
for (s in seq_along(sizes)) {
  na <- round(sizes[s] * share_a[s])
  nb <- sizes[s] - na
  pa <- 0.25 + 0.05 * s
  pb <- 0.20 + 0.03 * s
  rows[[s]] <- data.frame(stratum = sprintf("S%d", s),
                          prime = c(rep("A", na), rep("B", nb)),
                          y = c(rbinom(na, 1, pa), rbinom(nb, 1, pb)))
}
two <- do.call(rbind, rows)
write.csv(two, "ranking_two_prime.csv", row.names = FALSE)
two$z <- as.integer(two$prime == "A")
dim_fit <- difference_in_means(y ~ z, blocks = stratum, data = two)
write_json(list(estimate = unname(dim_fit$coefficients), std_error = unname(dim_fit$std.error),
                design = dim_fit$design, n = nrow(two)),
           "ranking_estimatr.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote ranking_metafor.json, ranking_two_prime.csv, ranking_estimatr.json\n")
