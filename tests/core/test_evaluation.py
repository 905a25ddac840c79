import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from core.evaluation import Evaluation, compute_metrics


def test_report_equals_scikit_learn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 4, 200))
    names = ["a", "b", "c", "d"]
    report, cm = compute_metrics(y_true, y_pred, names)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(4), zero_division=0)
    for i, n in enumerate(names):
        assert np.isclose(report[n]["precision"], p[i]) and np.isclose(report[n]["recall"], r[i])
        assert np.isclose(report[n]["f1-score"], f[i]) and report[n]["support"] == s[i]
    pm, rm, fm, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    assert np.isclose(report["macro avg"]["f1-score"], fm)
    assert np.isclose(report["accuracy"], np.mean(y_true == y_pred))
    assert (cm == confusion_matrix(y_true, y_pred, labels=range(4))).all()


def test_missing_class_still_reported():
    report, cm = compute_metrics(np.array([0, 0, 1]), np.array([0, 1, 1]), ["x", "y", "z"])
    assert report["z"]["support"] == 0 and cm.shape == (3, 3)
    assert np.isclose(report["accuracy"], 2 / 3)


def test_loss_matches_keras_crossentropy():
    import keras

    rng = np.random.default_rng(2)
    logits = rng.normal(size=(50, 5))
    probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    y = rng.integers(0, 5, 50)
    ev = Evaluation(y_true=y, probs=probs, class_names=list("abcde"), indices=np.arange(50))
    expected = float(keras.losses.SparseCategoricalCrossentropy()(y, probs))
    assert np.isclose(ev.loss, expected, rtol=1e-4)
    assert np.isclose(ev.accuracy, np.mean(probs.argmax(1) == y))
    assert np.allclose(ev.losses.mean(), ev.loss)
