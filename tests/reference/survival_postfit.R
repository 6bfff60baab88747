# Reference values for tests/estimators/test_survival_postfit.py (after a Cox fit): baseline
# hazard, predicted survival with SEs, adjusted (directly standardised) curves, residuals of
# every type and the proportional-hazards test, computed with R's survival package.
#
# Run from tests/reference/:  python survival_postfit_data.py && Rscript survival_postfit.R
# Reads:  postfit_lung.csv, postfit_veteran.csv, postfit_rossi.csv, postfit_heart.csv (real
#         data sets exported from PyPI packages by survival_postfit_data.py)
# Writes: survival_postfit.json (the frozen R results; the Python tests never call R).
# R coxph defaults throughout (as wpeval.cox): eps 1e-9, iter.max 20, timefix TRUE.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") >= "3.2")

lung <- read.csv("postfit_lung.csv")
vet <- read.csv("postfit_veteran.csv")
rossi <- read.csv("postfit_rossi.csv")
heart <- read.csv("postfit_heart.csv")

fits <- list(
  lung = coxph(Surv(time, status) ~ age + ph_ecog + wt_loss + strata(sex), data = lung,
               ties = "efron"),
  veteran = coxph(Surv(time, status) ~ celltype + karno + age + trt, data = vet,
                  ties = "breslow"),
  rossi = coxph(Surv(week, arrest) ~ fin + age + prio + strata(wexp), data = rossi,
                weights = wt, ties = "efron"),  # non-integer weights: R uses robust var
  heart = coxph(Surv(start, stop, event) ~ age + surgery + transplant, data = heart,
                ties = "efron"),
  # two strata columns, cluster-robust variance (survfit's std.err uses it), Breslow
  heart2 = coxph(Surv(start, stop, event) ~ age + transplant + strata(grp, k), data = heart,
                 cluster = id, ties = "breslow")
)
newdata <- list(
  lung = data.frame(age = c(60, 70), ph_ecog = c(1, 2), wt_loss = c(5, 20), sex = c(1, 2)),
  veteran = data.frame(celltype = c("adeno", "squamous"), karno = c(60, 80), age = c(60, 65),
                       trt = c(1, 2)),
  rossi = data.frame(fin = c(0, 1), age = c(20, 30), prio = c(3, 0), wexp = c(0, 1)),
  heart = data.frame(age = c(-5, 5), surgery = c(0, 1), transplant = c(1, 0)),
  heart2 = data.frame(age = c(0, 3), transplant = c(1, 0), grp = c("a", "b"), k = c(1, 0))
)

mat <- function(m) if (is.matrix(m)) unname(split(m, col(m))) else list(unname(m))

one <- function(name) {
  fit <- fits[[name]]
  bh <- basehaz(fit, centered = FALSE)
  pred <- lapply(seq_len(nrow(newdata[[name]])), function(i) {
    sf <- survfit(fit, newdata = newdata[[name]][i, , drop = FALSE])
    list(time = sf$time, surv = sf$surv, std_err = sf$std.err, cumhaz = sf$cumhaz,
         lower = sf$lower, upper = sf$upper)
  })
  res <- list()
  for (type in c("martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta",
                 "dfbetas")) {
    r <- residuals(fit, type = type)
    res[[type]] <- mat(r)
  }
  sch <- residuals(fit, type = "schoenfeld")
  res$schoenfeld_time <- as.numeric(if (is.matrix(sch)) rownames(sch) else names(sch))
  z <- cox.zph(fit)  # survival 3.x: transform = "km", terms = TRUE, global = TRUE
  zi <- cox.zph(fit, transform = "identity", terms = FALSE)
  list(
    coef = unname(coef(fit)), names = names(coef(fit)),
    basehaz = list(hazard = bh$hazard, time = bh$time,
                   strata = if (is.null(bh$strata)) NULL else as.character(bh$strata)),
    predict = pred,
    residuals = res,
    zph = list(terms = rownames(z$table), chisq = unname(z$table[, "chisq"]),
               df = unname(z$table[, "df"]), p = unname(z$table[, "p"]),
               x = z$x, time = z$time, y = mat(z$y),
               strata = if (is.null(z$strata)) NULL else as.character(z$strata)),
    zph_identity = list(terms = rownames(zi$table), chisq = unname(zi$table[, "chisq"]),
                        df = unname(zi$table[, "df"]), p = unname(zi$table[, "p"]),
                        y = mat(zi$y))
  )
}
out <- lapply(names(fits), one)
names(out) <- names(fits)

# Adjusted (directly standardised) survival by cell type: every veteran row with its cell
# type set to each level in turn, survfit(fit, newdata=) curves averaged over the rows.
fit <- fits$veteran
adj <- lapply(sort(unique(vet$celltype)), function(lev) {
  nd <- vet
  nd$celltype <- lev
  sf <- survfit(fit, newdata = nd)
  list(level = lev, time = sf$time, surv = unname(rowMeans(sf$surv)))
})
out$adjusted_veteran <- adj
# collapse = id on the (start, stop] data: residuals summed within person
fh <- fits$heart
out$heart_collapse <- list(
  id = sort(unique(heart$id)),
  martingale = unname(residuals(fh, type = "martingale", collapse = heart$id)),
  deviance = unname(residuals(fh, type = "deviance", collapse = heart$id)),
  dfbeta = mat(unname(residuals(fh, type = "dfbeta", collapse = heart$id)))
)
out$session <- list(R = R.version.string, survival = as.character(packageVersion("survival")))
write_json(out, "survival_postfit.json", digits = NA, auto_unbox = TRUE, pretty = FALSE,
           null = "null", na = "null")
cat("wrote survival_postfit.json\n")
