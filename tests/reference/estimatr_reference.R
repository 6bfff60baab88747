# Reference values for wpeval.estimators.randomised and wpeval.inference.randomisation.
#
# Creates small deterministic data sets (written beside this script as CSV), runs R's
# estimatr (difference_in_means, lm_lin, horvitz_thompson, iv_robust) and a brute-force
# enumeration of randomisation p-values, and freezes the results as JSON.
# The Python tests (tests/estimators/test_randomised.py, tests/inference/test_randomisation.py)
# read both files; they never call R.
#
# Run from tests/reference:   Rscript estimatr_reference.R
# Needs: R >= 4.0, estimatr (1.0.0 used), jsonlite.

suppressPackageStartupMessages({
  library(estimatr)
  library(jsonlite)
})
RNGversion("4.0.0")
set.seed(20110601)

# ------------------------------------------------------------------ data set A (blocked)
nb <- c(10, 12, 14, 16, 17, 18, 19, 20, 21, 23, 24, 26)      # 12 blocks, 220 units
pb <- c(.3, .4, .5, .35, .45, .5, .6, .4, .5, .55, .45, .5)  # design P(condition2) per block
A <- do.call(rbind, lapply(seq_along(nb), function(j) {
  n <- nb[j]
  m <- round(pb[j] * n)
  z <- sample(rep(c(1, 0), c(m, n - m)))                     # complete RA within block
  ncl <- ceiling(n / 3)                                       # clusters of ~3 units
  cl <- sort(rep(seq_len(ncl), length.out = n))
  zc_cl <- sample(rep(c(1, 0), c(ceiling(ncl / 2), ncl - ceiling(ncl / 2))))
  prime <- sample(rep(c("A", "B", "C"), length.out = n))
  data.frame(b = sprintf("B%02d", j), z = z, p2 = pb[j], cl = sprintf("B%02d-C%02d", j, cl),
             zc = zc_cl[cl], prime = prime, stringsAsFactors = FALSE)
}))
N <- nrow(A)
A$x <- round(rnorm(N, 40, 10), 1)
A$f <- sample(c("lo", "mid", "hi"), N, replace = TRUE)
beff <- setNames(rnorm(length(nb), 0, 1), sprintf("B%02d", seq_along(nb)))
ceff <- rnorm(length(unique(A$cl)), 0, 0.5)
names(ceff) <- unique(A$cl)
A$y <- round(1 + 0.6 * A$z + 0.3 * A$zc + beff[A$b] + ceff[A$cl] + 0.03 * A$x +
               0.4 * (A$f == "hi") + (1 + 0.5 * A$z) * rnorm(N) +
               0.5 * (A$prime == "A"), 4)
A$ybin <- as.integer(A$y + rnorm(N) > 2)
u <- runif(N)
A$d <- as.integer(ifelse(A$z == 1, u < 0.75, u < 0.15))      # received (attached)
A$y_iv <- round(0.5 + 1.2 * A$d + 0.02 * A$x + beff[A$b] + rnorm(N), 4)
A$p_recv <- ifelse(A$z == 1, A$p2, 1 - A$p2)                 # probability of condition received
A$person_id <- seq_len(N)
write.csv(A, "estimatr_blocked.csv", row.names = FALSE)

# ------------------------------------------------------------------ data set P (matched pairs)
J <- 20
P <- data.frame(pair = rep(sprintf("P%02d", 1:J), each = 2),
                z = as.vector(replicate(J, sample(c(0, 1)))))
P$y <- round(rep(rnorm(J, 0, 2), each = 2) + 0.8 * P$z + rnorm(2 * J), 4)
P$person_id <- seq_len(nrow(P))
write.csv(P, "estimatr_pairs.csv", row.names = FALSE)

# ------------------------------------------------------------------ data set PC (clustered pairs)
PC <- do.call(rbind, lapply(1:15, function(j) {
  sizes <- sample(2:6, 2, replace = TRUE)
  zc <- sample(c(0, 1))
  data.frame(pair = sprintf("Q%02d", j), cl = rep(sprintf("Q%02d-%d", j, 1:2), sizes),
             z = rep(zc, sizes))
}))
PC$y <- round(as.numeric(factor(PC$pair)) / 5 + 0.5 * PC$z + rnorm(nrow(PC)), 4)
PC$person_id <- seq_len(nrow(PC))
write.csv(PC, "estimatr_pairs_clustered.csv", row.names = FALSE)

# ------------------------------------------------------------------ data set M (pairs + blocks)
M <- rbind(P[1:10, c("pair", "z", "y")],
           data.frame(pair = rep(c("L1", "L2"), c(8, 10)),
                      z = c(sample(rep(0:1, 4)), sample(rep(0:1, 5))),
                      y = round(rnorm(18, 1), 4)))
M$person_id <- seq_len(nrow(M))
write.csv(M, "estimatr_mixed_pairs.csv", row.names = FALSE)

# ------------------------------------------------------------------ estimates
out <- list()
grab <- function(fit, term) {
  td <- tidy(fit)
  r <- td[td$term == term, ]
  list(term = term, estimate = r$estimate, std_error = r$std.error, statistic = r$statistic,
       p_value = r$p.value, conf_low = r$conf.low, conf_high = r$conf.high,
       df = if (is.null(r$df)) NA_real_ else r$df, n = nobs(fit))
}
out$dim_standard <- grab(difference_in_means(y ~ z, data = A), "z")
out$dim_blocked <- grab(difference_in_means(y ~ z, blocks = b, data = A), "z")
out$dim_blocked_binary <- grab(difference_in_means(ybin ~ z, blocks = b, data = A), "z")
out$dim_blocked_conditions <- grab(difference_in_means(y ~ prime, blocks = b, data = A,
                                                       condition1 = "C", condition2 = "A"),
                                   "primeA")
out$dim_clustered <- grab(difference_in_means(y ~ zc, clusters = cl, data = A), "zc")
out$dim_block_clustered <- grab(difference_in_means(y ~ zc, clusters = cl, blocks = b,
                                                    data = A), "zc")
out$dim_pairs <- grab(difference_in_means(y ~ z, blocks = pair, data = P), "z")
out$dim_pairs_clustered <- grab(difference_in_means(y ~ z, blocks = pair, clusters = cl,
                                                    data = PC), "z")
out$dim_mixed_pairs <- grab(suppressWarnings(difference_in_means(y ~ z, blocks = pair,
                                                                 data = M)), "z")

out$lm_lin_covariates <- grab(lm_lin(y ~ z, covariates = ~ x + f, data = A), "z")
out$lm_lin_covariates_hc1 <- grab(lm_lin(y ~ z, covariates = ~ x + f, data = A,
                                         se_type = "HC1"), "z")
out$lm_lin_covariates_hc3 <- grab(lm_lin(y ~ z, covariates = ~ x + f, data = A,
                                         se_type = "HC3"), "z")
out$lm_lin_blocks <- grab(lm_lin(y ~ z, covariates = ~ x + factor(b), data = A), "z")
out$lm_lin_blocks_only <- grab(lm_lin(y ~ z, covariates = ~ factor(b), data = A), "z")

out$ht_simple_estimated <- grab(suppressMessages(horvitz_thompson(y ~ z, data = A)), "z")
out$ht_simple_probs <- grab(horvitz_thompson(y ~ z, data = A, condition_prs = p2), "z")
out$ht_simple_constant <- grab(horvitz_thompson(y ~ z, data = A, condition_prs = p2,
                                                se_type = "constant"), "z")
out$ht_complete <- grab(suppressMessages(horvitz_thompson(y ~ z, data = A, simple = FALSE)),
                        "z")
out$ht_blocked_probs <- grab(suppressMessages(horvitz_thompson(y ~ z, blocks = b,
                                                               condition_prs = p2, data = A)),
                             "z")
out$ht_blocked_estimated <- grab(suppressMessages(horvitz_thompson(y ~ z, blocks = b,
                                                                   data = A)), "z")

out$iv <- grab(iv_robust(y_iv ~ d | z, data = A), "d")
out$iv_covariates <- grab(iv_robust(y_iv ~ d + x + f | z + x + f, data = A), "d")
out$iv_hc0 <- grab(iv_robust(y_iv ~ d + x | z + x, data = A, se_type = "HC0"), "d")
out$iv_hc1 <- grab(iv_robust(y_iv ~ d + x | z + x, data = A, se_type = "HC1"), "d")
out$iv_fixed_effects <- grab(iv_robust(y_iv ~ d + x | z + x, fixed_effects = ~ b, data = A),
                             "d")

# ------------------------------------------------------------------ exact randomisation test
# Brute force: every assignment with the observed number treated in each block (combn),
# blocked difference in means (block-size weights), sharp null of a constant effect tau0
# (adjusted outcome y - tau0 * z), two-sided p = share of |T*| >= |T_obs| (observed included).
R <- data.frame(blk = rep(c("r1", "r2"), c(6, 7)),
                z = c(1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0),
                y = c(3.1, 1.2, 2.8, 0.4, 1.9, 4.0, 2.2, 3.5, 2.9, 1.0, 1.4, 3.3, 2.0))
R$person_id <- seq_len(nrow(R))
write.csv(R, "ri_exact.csv", row.names = FALSE)
blocked_dim <- function(y, z, blk) {
  s <- 0
  for (b in unique(blk)) {
    i <- blk == b
    s <- s + sum(i) / length(y) * (mean(y[i & z == 1]) - mean(y[i & z == 0]))
  }
  s
}
assign_block <- function(n, m) {
  cmb <- combn(n, m)
  t(apply(cmb, 2, function(idx) { v <- numeric(n); v[idx] <- 1; v }))
}
Z1 <- assign_block(6, sum(R$z[R$blk == "r1"]))
Z2 <- assign_block(7, sum(R$z[R$blk == "r2"]))
grid <- expand.grid(i = seq_len(nrow(Z1)), j = seq_len(nrow(Z2)))
ri <- list(n_assignments = nrow(grid), tau0 = c(-1, 0, 0.5, 1, 1.5, 2, 3),
           p_two_sided = c(), p_greater = c(), p_less = c(), observed = c())
for (tau0 in ri$tau0) {
  u <- R$y - tau0 * R$z
  tobs <- blocked_dim(u, R$z, R$blk)
  tstar <- apply(grid, 1, function(g) blocked_dim(u, c(Z1[g[1], ], Z2[g[2], ]), R$blk))
  eps <- 1e-9
  ri$observed <- c(ri$observed, tobs)
  ri$p_two_sided <- c(ri$p_two_sided, mean(abs(tstar) >= abs(tobs) - eps))
  ri$p_greater <- c(ri$p_greater, mean(tstar >= tobs - eps))
  ri$p_less <- c(ri$p_less, mean(tstar <= tobs + eps))
}
out$ri_exact <- ri

# ------------------------------------------------------------------ prime contrasts
# (1) Without allocation probabilities compare_primes is estimatr's blocked difference in
#     means on the rows of each pair of primes (data set A, blocks b).
for (pr in list(c("A", "B"), c("A", "C"), c("B", "C"))) {
  sub <- A[A$prime %in% pr, ]
  fit <- difference_in_means(y ~ prime, blocks = b, data = sub, condition1 = pr[2],
                             condition2 = pr[1])
  out[[paste0("contrast_", pr[1], pr[2])]] <- grab(fit, paste0("prime", pr[1]))
}
# (1b) method = "lin": lm_lin on the pair's rows, strata as factor covariates.
subAC <- A[A$prime %in% c("A", "C"), ]
subAC$arm <- as.integer(subAC$prime == "A")
out$contrast_lin_AC <- grab(lm_lin(y ~ arm, covariates = ~ x + factor(b), data = subAC), "arm")
# (2) Allocation probabilities that differ by payment group inside a stratum: Hajek
#     (inverse-probability weighted) means per stratum x prime, each from
#     lm_robust(y ~ 1, weights = 1/p, se_type = "HC1") (= the linearised Hajek variance
#     n/(n-1) sum w^2 (y - mu)^2 / (sum w)^2), combined over strata with weights n_A + n_B
#     (pairs) or the stratum size (prime vs CPA average, over all three primes).
probs <- list(g1 = c(P1 = 1/3, P2 = 1/3, P3 = 1/3), g2 = c(P1 = .45, P2 = .35, P3 = .20))
W <- do.call(rbind, lapply(1:8, function(s) {
  n <- 40 + 5 * s
  g <- sample(c("g1", "g2"), n, replace = TRUE)
  prime <- vapply(g, function(gg) sample(names(probs[[gg]]), 1, prob = probs[[gg]]), "")
  data.frame(district = sprintf("D%d", (s - 1) %/% 2 + 1), period = sprintf("2014Q%d", (s - 1) %% 2 + 1),
             payment_group = g, prime = prime,
             allocation_prob = mapply(function(gg, pp) probs[[gg]][[pp]], g, prime),
             stringsAsFactors = FALSE)
}))
W$cpa <- "CPA99"
W$y <- as.integer(runif(nrow(W)) < 0.25 + 0.1 * (W$payment_group == "g2") +
                    0.08 * (W$prime == "P1") - 0.05 * (W$prime == "P3"))
W$person_id <- seq_len(nrow(W))
write.csv(W, "contrast_weighted.csv", row.names = FALSE)
W$stratum <- paste(W$district, W$period)
cells <- do.call(rbind, lapply(split(W, list(W$stratum, W$prime)), function(d) {
  fit <- lm_robust(y ~ 1, weights = 1 / allocation_prob, data = d, se_type = "HC1")
  data.frame(stratum = d$stratum[1], prime = d$prime[1], n = nrow(d),
             mu = unname(coef(fit)), v = fit$std.error^2)
}))
getc <- function(s, p, what) cells[cells$stratum == s & cells$prime == p, what]
strata <- sort(unique(W$stratum))
pair_contrast <- function(a, b) {
  tau_s <- sapply(strata, function(s) getc(s, a, "mu") - getc(s, b, "mu"))
  v_s <- sapply(strata, function(s) getc(s, a, "v") + getc(s, b, "v"))
  n_s <- sapply(strata, function(s) getc(s, a, "n") + getc(s, b, "n"))
  om <- n_s / sum(n_s)
  list(estimate = sum(om * tau_s), std_error = sqrt(sum(om^2 * v_s)))
}
avg_contrast <- function(a) {
  pp <- c("P1", "P2", "P3")
  cf <- ifelse(pp == a, 1 - 1/3, -1/3)
  tau_s <- sapply(strata, function(s) sum(cf * sapply(pp, function(p) getc(s, p, "mu"))))
  v_s <- sapply(strata, function(s) sum(cf^2 * sapply(pp, function(p) getc(s, p, "v"))))
  n_s <- sapply(strata, function(s) sum(sapply(pp, function(p) getc(s, p, "n"))))
  om <- n_s / sum(n_s)
  list(estimate = sum(om * tau_s), std_error = sqrt(sum(om^2 * v_s)))
}
out$contrast_weighted <- list(
  "P1 - P2" = pair_contrast("P1", "P2"), "P1 - P3" = pair_contrast("P1", "P3"),
  "P2 - P3" = pair_contrast("P2", "P3"), "P1 - CPA average" = avg_contrast("P1"),
  "P2 - CPA average" = avg_contrast("P2"), "P3 - CPA average" = avg_contrast("P3"))

out$meta <- list(estimatr = as.character(packageVersion("estimatr")),
                 R = R.version.string, seed = 20110601,
                 script = "tests/reference/estimatr_reference.R")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), "estimatr_reference.json")
cat("wrote estimatr_reference.json and the CSV inputs\n")
