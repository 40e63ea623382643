#!/usr/bin/env python3
"""Statistical oracle for `carprice data generate` (test-only).

Generates rows with the real binary, reads them back with pandas (multi-line
quoted descriptions included), parses the raw units the way an ETL would, and
checks that the documented price model is learnable but not trivial:

  * a gradient-boosted tree model on cleaned features reaches holdout
    R^2 >= 0.85 on log(price);
  * a linear model on `year` alone stays <= 0.60;
  * `savings_amount` correlates with price (it leaks it, as in the real data).

Exit status: 0 pass, 1 fail, 77 skipped (pandas/scikit-learn unavailable).
"""
import argparse
import os
import subprocess
import sys
import tempfile

SKIP = 77

try:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score
except ImportError as e:  # pragma: no cover - depends on the environment
    print(f"SKIP: {e}")
    sys.exit(SKIP)

BOOL = {"True": 1.0, "False": 0.0}
CATEGORICAL = ["make_name", "model_name", "body_type", "fuel_type", "wheel_system",
               "transmission", "listing_color", "engine_type"]


def unit_number(s: pd.Series, unit: str) -> pd.Series:
    """'35.1 in' -> 35.1, '--' or empty -> NaN."""
    return pd.to_numeric(s.str.replace(unit, "", regex=False).str.strip(), errors="coerce")


def leading_number(s: pd.Series) -> pd.Series:
    """'240 hp @ 5,800 RPM' -> 240."""
    return pd.to_numeric(s.str.extract(r"^(\d+)", expand=False), errors="coerce")


def features(df: pd.DataFrame) -> pd.DataFrame:
    X = pd.DataFrame(index=df.index)
    for col in ["year", "mileage", "horsepower", "engine_displacement", "city_fuel_economy",
                "highway_fuel_economy", "owner_count", "daysonmarket", "latitude",
                "longitude", "seller_rating"]:
        X[col] = pd.to_numeric(df[col], errors="coerce")
    for col in ["is_new", "has_accidents", "frame_damaged", "salvage", "theft_title", "fleet",
                "isCab", "is_cpo", "franchise_dealer"]:
        X[col] = df[col].map(BOOL)
    for col in ["back_legroom", "front_legroom", "height", "length", "wheelbase", "width"]:
        X[col] = unit_number(df[col], " in")
    X["fuel_tank_volume"] = unit_number(df["fuel_tank_volume"], " gal")
    X["maximum_seating"] = unit_number(df["maximum_seating"], " seats")
    X["torque"] = leading_number(df["torque"])
    X["n_options"] = df["major_options"].str.count("'") / 2
    # trim: its name without the drive suffix, as an ordinal code per name
    X["trim"] = df["trim_name"].str.replace(r" (AWD|FWD|RWD|4WD|4x2)$", "", regex=True)
    X["trim"] = X["trim"].astype("category").cat.codes.replace(-1, np.nan)
    for col in CATEGORICAL:
        X[col] = df[col].replace("", np.nan).astype("category")
    return X


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--carprice", required=True, help="path of the carprice binary")
    ap.add_argument("--rows", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--min-good", type=float, default=0.85)
    ap.add_argument("--max-naive", type=float, default=0.60)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "raw.csv")
        subprocess.run([args.carprice, "data", "generate", "--rows", str(args.rows),
                        "--seed", str(args.seed), "--out", path], check=True)
        df = pd.read_csv(path, dtype=str, keep_default_na=False)

    failures = []
    if len(df) != args.rows or df.shape[1] != 66:
        failures.append(f"read {df.shape}, expected ({args.rows}, 66)")

    y = np.log(pd.to_numeric(df["price"]))
    X = features(df)
    rng = np.random.default_rng(7)
    test = rng.random(len(df)) < 0.2
    Xtr, Xte, ytr, yte = X[~test], X[test], y[~test], y[test]

    gbt = HistGradientBoostingRegressor(max_iter=600, learning_rate=0.08, max_leaf_nodes=63,
                                        min_samples_leaf=20, categorical_features="from_dtype",
                                        random_state=0)
    gbt.fit(Xtr, ytr)
    r2_good = r2_score(yte, gbt.predict(Xte))

    yr = X[["year"]]
    lin = LinearRegression().fit(yr[~test], ytr)
    r2_year = r2_score(yte, lin.predict(yr[test]))
    r2_mean = r2_score(yte, np.full(len(yte), ytr.mean()))

    price = pd.to_numeric(df["price"])
    savings = pd.to_numeric(df["savings_amount"])
    corr = float(np.corrcoef(price, savings)[0, 1])
    zero_savings = float((savings == 0).mean())

    print(f"rows={len(df)} log_price_std={y.std():.3f} price_median={price.median():.0f}")
    print(f"r2_gbt={r2_good:.4f} r2_year_only={r2_year:.4f} r2_mean={r2_mean:.4f}")
    print(f"corr_price_savings={corr:.3f} savings_zero_share={zero_savings:.3f}")

    if r2_good < args.min_good:
        failures.append(f"gradient boosting R^2 {r2_good:.4f} < {args.min_good}")
    if r2_year > args.max_naive:
        failures.append(f"year-only R^2 {r2_year:.4f} > {args.max_naive}")
    if r2_mean > 0.01:
        failures.append(f"mean-only R^2 {r2_mean:.4f} should be ~0")
    if corr < 0.2:
        failures.append(f"savings_amount/price correlation {corr:.3f} < 0.2")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
