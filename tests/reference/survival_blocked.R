# Reference values for tests/estimators/test_survival_blocked.py (blocked Kaplan-Meier
# contrasts, wpeval.estimators.survival.blocked), computed with R's survival package.
#
# Run from tests/reference/:  Rscript survival_blocked.R
# Writes: survival_blocked_lung.csv (survival::lung with an artificial 'stratum' column and the
#         sexes as two "primes") and survival_blocked.json (within-stratum survfit values and
#         their weighted combination, computed by hand here). The Python tests never call R.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") >= "3.2")

lung2 <- data.frame(
  id = seq_len(nrow(survival::lung)),
  time = survival::lung$time,
  event = as.integer(survival::lung$status == 2),
  prime = ifelse(survival::lung$sex == 1, "A", "B"),
  # artificial strata: rows in data order dealt to three strata of unequal size
  stratum = c("s1", "s2", "s3", "s1", "s1")[(seq_len(nrow(survival::lung)) - 1) %% 5 + 1]
)
write.csv(lung2, "survival_blocked_lung.csv", row.names = FALSE)
horizons <- c(180, 365)

cell <- function(d, h) {
  fit <- survfit(Surv(time, event) ~ 1, data = d)
  s <- summary(fit, times = h, extend = TRUE)
  rm <- summary(fit, rmean = h)$table
  list(n = nrow(d), surv = s$surv, std_err = s$std.err,
       rmean = unname(rm["rmean"]), se_rmean = unname(rm["se(rmean)"]))
}

cells <- list()
for (st in sort(unique(lung2$stratum))) for (p in c("A", "B")) for (h in horizons) {
  v <- cell(lung2[lung2$stratum == st & lung2$prime == p, ], h)
  cells[[length(cells) + 1]] <- c(list(stratum = st, prime = p, horizon = h), v)
}
cells_df <- do.call(rbind, lapply(cells, as.data.frame))

combine <- function(df) {
  out <- list()
  for (h in horizons) {
    a <- df[df$prime == "A" & df$horizon == h, ]
    b <- df[df$prime == "B" & df$horizon == h, ]
    stopifnot(all(a$stratum == b$stratum))
    w <- (a$n + b$n) / sum(a$n + b$n)   # stratum share of the pair's referrals
    out[[length(out) + 1]] <- list(quantity = "survival", horizon = h,
      estimate = sum(w * (a$surv - b$surv)),
      std_error = sqrt(sum(w^2 * (a$std_err^2 + b$std_err^2))))
    out[[length(out) + 1]] <- list(quantity = "rmst", horizon = h,
      estimate = sum(w * (a$rmean - b$rmean)),
      std_error = sqrt(sum(w^2 * (a$se_rmean^2 + b$se_rmean^2))))
  }
  do.call(rbind, lapply(out, as.data.frame))
}

one <- list()
for (p in c("A", "B")) for (h in horizons)
  one[[length(one) + 1]] <- c(list(stratum = "all", prime = p, horizon = h),
                              cell(lung2[lung2$prime == p, ], h))
one_df <- do.call(rbind, lapply(one, as.data.frame))

res <- list(
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  horizons = horizons,
  cells = cells_df,
  combined = combine(cells_df),
  one_stratum_cells = one_df,
  one_stratum = combine(one_df)
)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE), "survival_blocked.json")
