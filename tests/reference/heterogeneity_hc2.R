# Reference values for wpeval.estimators.heterogeneity.group_differences (prime x group
# interaction test with stratum x group fixed effects and HC2 standard errors).
# Produces heterogeneity_hc2_data.csv (the input) and heterogeneity_hc2.json (the frozen
# values). Run from tests/reference:  Rscript heterogeneity_hc2.R
# Method: OLS with explicit cell dummies via estimatr::lm_robust(se_type = "HC2"); the Wald
# statistic W = (Rb)' (R V R')^-1 (Rb) is computed here from lm_robust's vcov.
suppressPackageStartupMessages({library(estimatr); library(jsonlite)})
set.seed(20110601)
primes <- c("Alder", "Birch", "Cedar")            # reference prime = first in sorted order
groups <- c("esa_new", "jsa_18_24", "jsa_25_plus")
grid <- expand.grid(district = paste0("CPA17-D0", 1:4), period = c("2012Q1", "2012Q2"),
                    payment_group = groups, stringsAsFactors = FALSE)
parts <- list()
for (i in seq_len(nrow(grid))) {
  n <- sample(9:24, 1)
  pr <- sample(rep(primes, length.out = n))      # blocked (complete) random allocation
  g <- grid$payment_group[i]
  p <- 0.25 + 0.12 * (pr == "Birch" & g == "jsa_18_24") - 0.05 * (pr == "Cedar") +
    0.03 * (grid$district[i] == "CPA17-D01")
  parts[[i]] <- data.frame(cpa = "CPA17", district = grid$district[i], period = grid$period[i],
                           payment_group = g, prime = pr, y = rbinom(n, 1, p))
}
d <- do.call(rbind, parts)
write.csv(d, "heterogeneity_hc2_data.csv", row.names = FALSE)

d$cell <- factor(paste(d$district, d$period, d$payment_group))
terms <- c()
for (g in groups) for (p in primes[-1]) {
  nm <- paste0("X_", g, "_", p)
  d[[nm]] <- as.numeric(d$payment_group == g & d$prime == p)
  terms <- c(terms, nm)
}
fit <- lm_robust(as.formula(paste("y ~ cell +", paste(terms, collapse = " + "))), data = d,
                 se_type = "HC2")
b <- coef(fit)[terms]
V <- vcov(fit)[terms, terms]
R <- matrix(0, 0, length(terms))
for (p in primes[-1]) {
  js <- which(endsWith(terms, paste0("_", p)))
  for (j in js[-1]) { r <- rep(0, length(terms)); r[js[1]] <- 1; r[j] <- -1; R <- rbind(R, r) }
}
rb <- R %*% b
W <- as.numeric(t(rb) %*% solve(R %*% V %*% t(R)) %*% rb)
out <- list(
  source = "R estimatr::lm_robust(se_type='HC2') with explicit cell dummies",
  r_version = R.version.string, estimatr_version = as.character(packageVersion("estimatr")),
  terms = unname(sapply(terms, function(t) {
    s <- sub("^X_", "", t); g <- sub("_(Alder|Birch|Cedar)$", "", s); p <- sub(".*_", "", s)
    paste0("CPA17 | ", g, " | ", p, " - Alder")})),
  estimate = unname(b), std_error = unname(sqrt(diag(V))),
  wald = W, df = nrow(R), p_value = pchisq(W, nrow(R), lower.tail = FALSE), n = nrow(d))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "heterogeneity_hc2.json")
