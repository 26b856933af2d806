"""Synthetic 2-D classification datasets and CSV import/export (numpy only).

Generate a dataset, split it, and save or load it as ``x,y,label`` CSV::

    from toy_data import make_dataset, train_test_split, load_csv, save_csv

    X, y = make_dataset("moons", n_samples=600, seed=0)      # float32 [n, 2], int64 [n]
    X_tr, X_te, y_tr, y_te, tr_idx, te_idx = train_test_split(X, y, seed=0)
"""

from .csv_io import (
    MAX_CSV_BYTES,
    MAX_CSV_CLASSES,
    MAX_CSV_ROWS,
    CSVFormatError,
    load_csv,
    load_csv_with_labels,
    save_csv,
)
from .generators import (
    DATASET_INFO,
    DATASETS,
    MAX_SAMPLES,
    DatasetInfo,
    dataset_info,
    make_blobs,
    make_circles,
    make_dataset,
    make_gaussian_quantiles,
    make_moons,
    make_spirals,
    make_xor,
    train_test_split,
)

__all__ = [
    "CSVFormatError",
    "DATASETS",
    "DATASET_INFO",
    "DatasetInfo",
    "MAX_CSV_BYTES",
    "MAX_CSV_CLASSES",
    "MAX_CSV_ROWS",
    "MAX_SAMPLES",
    "dataset_info",
    "load_csv",
    "load_csv_with_labels",
    "make_blobs",
    "make_circles",
    "make_dataset",
    "make_gaussian_quantiles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "save_csv",
    "train_test_split",
]
