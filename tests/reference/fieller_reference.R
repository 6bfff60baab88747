# Reference values for wpeval.icer (Fieller sets for incremental cost-effectiveness ratios).
#
# Two independent R computations, frozen as JSON for tests/test_icer.py (which never calls R):
#
# 1. `fieller_closed_form`: Fieller's confidence set written out in R from the formula in
#    Willan & O'Brien (1996, Health Economics 5:297-305, eq. 4) / Fieller (1954), for
#    hand-chosen (dC, dE, VC, VE, VCE) covering the three shapes: bounded interval, exclusive
#    set (two rays) and the whole line. Each set is then confirmed by brute force: the
#    statistic T(R) = (dC - R dE)^2 / (VC - 2 R VCE + R^2 VE) is evaluated on a fine grid and
#    the boundary points T(R) = q^2 are found with uniroot, independently of the quadratic.
# 2. `fieller_data_*`: data sets created here (written to fieller_data.csv) with a cost and a
#    0/1 effect, randomised within blocks. estimatr::difference_in_means(blocks = ) gives the
#    two blocked differences and their SEs; their covariance is obtained from estimatr alone
#    by polarisation, Cov = (Var(dC + dE) - Var(dC) - Var(dE)) / 2, where Var(dC + dE) is
#    estimatr's variance for the outcome cost + effect (the blocked Neyman variance is a
#    quadratic form in the outcome, so this is the cross-product formula of wpeval.icer).
#    The Fieller set is then computed a second way, by inverting the net-benefit test
#    (Heitjan 2000, Health Economics 9:327-335): R is in the set iff the blocked
#    difference in means of the net benefit R * effect - cost (estimatr, with its own SE) is
#    not significantly different from zero; the boundaries are found with uniroot.
#
# Run from tests/reference:   Rscript fieller_reference.R
# Needs: R >= 4.0, estimatr (1.0.0 used), jsonlite.

suppressPackageStartupMessages({
  library(estimatr)
  library(jsonlite)
})
RNGversion("4.0.0")
set.seed(20110601)

# ---------------------------------------------------------------- 1. closed form + grid
fieller_cf <- function(num, den, vn, vd, cv, q) {
  a <- den^2 - q^2 * vd
  b <- num * den - q^2 * cv
  c <- num^2 - q^2 * vn
  disc <- b^2 - a * c
  if (a > 0) return(list(kind = "bounded", lower = (b - sqrt(disc)) / a,
                         upper = (b + sqrt(disc)) / a))
  if (a < 0 && disc > 0) {
    r <- sort(c((b - sqrt(disc)) / a, (b + sqrt(disc)) / a))
    return(list(kind = "exclusive", lower = r[1], upper = r[2]))
  }
  list(kind = "unbounded", lower = -Inf, upper = Inf)
}

# boundaries of {R : T(R) <= q^2} found on a grid + uniroot (no quadratic formula used)
fieller_grid <- function(num, den, vn, vd, cv, q, lim) {
  f <- function(R) (num - R * den)^2 - q^2 * (vn - 2 * R * cv + R^2 * vd)
  grid <- seq(-lim, lim, length.out = 200001)
  s <- sign(f(grid))
  idx <- which(diff(s) != 0)
  roots <- sapply(idx, function(i) uniroot(f, c(grid[i], grid[i + 1]), tol = 1e-12)$root)
  inside_mid <- f(0.5 * (grid[1] + grid[2])) <= 0   # is the far left in the set?
  list(roots = roots, far_left_inside = inside_mid)
}

q95 <- qnorm(0.975)
cases <- list(
  bounded   = c(num = 350,  den = 0.08,  vn = 40^2, vd = 0.02^2,  cv = 0.6),
  bounded_negcov = c(num = -120, den = 0.05, vn = 30^2, vd = 0.015^2, cv = -0.2),
  exclusive = c(num = 300,  den = 0.03,  vn = 60^2, vd = 0.02^2,  cv = 0.1),
  unbounded = c(num = 20,   den = 0.01,  vn = 60^2, vd = 0.02^2,  cv = 0.1)
)
closed <- list()
for (nm in names(cases)) {
  x <- as.list(cases[[nm]])
  cf <- fieller_cf(x$num, x$den, x$vn, x$vd, x$cv, q95)
  gr <- fieller_grid(x$num, x$den, x$vn, x$vd, x$cv, q95, lim = 1e6)
  # the grid must find the same boundaries as the quadratic
  if (cf$kind == "unbounded") stopifnot(length(gr$roots) == 0, gr$far_left_inside)
  if (cf$kind != "unbounded") {
    stopifnot(length(gr$roots) == 2,
              abs(gr$roots[1] - cf$lower) < 1e-6 * max(1, abs(cf$lower)),
              abs(gr$roots[2] - cf$upper) < 1e-6 * max(1, abs(cf$upper)))
    stopifnot(gr$far_left_inside == (cf$kind == "exclusive"))
  }
  closed[[nm]] <- c(x, list(alpha = 0.05, kind = cf$kind,
                            lower = if (is.finite(cf$lower)) cf$lower else NULL,
                            upper = if (is.finite(cf$upper)) cf$upper else NULL,
                            grid_roots = gr$roots))
}
# a t critical value (df = 30) for the first case
x <- as.list(cases$bounded)
cf <- fieller_cf(x$num, x$den, x$vn, x$vd, x$cv, qt(0.975, 30))
closed$bounded_t30 <- c(x, list(alpha = 0.05, df = 30, kind = cf$kind, lower = cf$lower,
                                upper = cf$upper))

# ---------------------------------------------------------------- 2. blocked data sets
make_data <- function(name, n_blocks, effect_a, effect_b, seed_shift) {
  do.call(rbind, lapply(seq_len(n_blocks), function(j) {
    n <- 30 + 7 * j
    z <- sample(rep(c(1, 0), c(round(n * (0.4 + 0.05 * (j %% 3))), n - round(n * (0.4 + 0.05 * (j %% 3))))))
    p <- ifelse(z == 1, effect_a, effect_b) + 0.03 * (j - n_blocks / 2)
    e <- rbinom(n, 1, pmin(pmax(p, 0.01), 0.99))
    cost <- round(200 * rbinom(n, 1, 0.9) + e * (1200 + 250 * rpois(n, 6 + 4 * z)), 2)
    data.frame(dataset = name, block = sprintf("B%02d", j),
               prime = ifelse(z == 1, "A", "B"), cost = cost, effect = e)
  }))
}
D <- rbind(make_data("clear", 8, 0.40, 0.22), make_data("weak", 6, 0.30, 0.27))
write.csv(D, "fieller_data.csv", row.names = FALSE)

dim_b <- function(d, y) {
  d$.y <- y
  r <- difference_in_means(.y ~ prime, data = d, blocks = block, condition1 = "B",
                           condition2 = "A")
  c(est = unname(r$coefficients), se = unname(r$std.error))
}
data_ref <- list()
for (nm in unique(D$dataset)) {
  d <- D[D$dataset == nm, ]
  rc <- dim_b(d, d$cost)
  re <- dim_b(d, d$effect)
  rs <- dim_b(d, d$cost + d$effect)
  cv <- (rs[["se"]]^2 - rc[["se"]]^2 - re[["se"]]^2) / 2
  cf <- fieller_cf(rc[["est"]], re[["est"]], rc[["se"]]^2, re[["se"]]^2, cv, q95)
  # net-benefit inversion: z(R) = est(R e - c) / se(R e - c); boundaries at z^2 = q^2
  zfun <- function(R) { r <- dim_b(d, R * d$effect - d$cost); (r[["est"]] / r[["se"]])^2 - q95^2 }
  nb <- NULL
  if (cf$kind != "unbounded") {
    span <- 1e6
    lo <- uniroot(zfun, c(if (cf$kind == "bounded") -span else cf$lower - abs(cf$lower),
                          if (cf$kind == "bounded") rc[["est"]] / re[["est"]] else cf$lower + 1),
                  tol = 1e-10, extendInt = "yes")$root
    hi <- uniroot(zfun, c(if (cf$kind == "bounded") rc[["est"]] / re[["est"]] else cf$upper - 1,
                          if (cf$kind == "bounded") span else cf$upper + abs(cf$upper)),
                  tol = 1e-10, extendInt = "yes")$root
    stopifnot(abs(lo - cf$lower) < 1e-5 * abs(cf$lower), abs(hi - cf$upper) < 1e-5 * abs(cf$upper))
    nb <- c(lower = lo, upper = hi)
  }
  data_ref[[nm]] <- list(d_cost = rc[["est"]], se_cost = rc[["se"]], d_effect = re[["est"]],
                         se_effect = re[["se"]], cov = cv, kind = cf$kind,
                         lower = if (is.finite(cf$lower)) cf$lower else NULL,
                         upper = if (is.finite(cf$upper)) cf$upper else NULL,
                         net_benefit_inversion = nb)
}

out <- list(generated_by = "tests/reference/fieller_reference.R",
            r_version = R.version.string,
            estimatr_version = as.character(packageVersion("estimatr")),
            fieller_closed_form = closed, fieller_data = data_ref)
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(15), pretty = TRUE), "fieller_reference.json")
cat("wrote fieller_reference.json and fieller_data.csv\n")
