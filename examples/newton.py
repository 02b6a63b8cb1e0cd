"""Newton's method on Hessian-vector products: logistic regression in a few steps.

Gradient descent takes a step along -∇L and needs many of them when the loss is
badly conditioned. Newton's method solves H p = -∇L for the step, which takes the
curvature into account and converges in a handful of iterations. Forming H costs
one pass per parameter; truncated Newton never forms it: conjugate gradients
solve H p = -∇L using only products H v, and ``adcompile.hvp`` computes each in one
generated forward-over-reverse pass (the tangent of the generated gradient).

Run it:

    python examples/newton.py [--plot newton.png]

It fits a logistic regression (with a small L2 penalty) on a synthetic problem
with correlated features, by gradient descent and by truncated Newton-CG, prints
the iterations each needs to bring the gradient's norm below 1e-8, and plots the
loss against the iteration (when matplotlib is installed).
"""

from __future__ import annotations

import argparse

import numpy as np

import adcompile as ad


def loss(w, X, y, lam):
    """Mean logistic loss of the labels ``y`` (0 or 1) plus ``lam/2 * |w|^2``."""
    z = X @ w
    # log(1 + exp(z)) - y z, with log(1 + exp(z)) computed stably
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * np.sum(w * w)


gradient = ad.grad(loss)
hessian_vector = ad.hvp(loss)


def make_problem(n=500, d=20, seed=0):
    """Features with very different scales and correlations: ill-conditioned."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) * np.logspace(0, 1.5, d)
    X = rng.normal(size=(n, d)) @ mix / np.sqrt(d)
    w_true = rng.normal(size=d)
    p = 1 / (1 + np.exp(-X @ w_true / 5))
    y = (rng.uniform(size=n) < p).astype(float)
    return X, y


def conjugate_gradients(hv, b, tol=1e-10, max_iter=200):
    """Solve H p = b with products ``hv(v) = H v`` only (H symmetric positive definite)."""
    p = np.zeros_like(b)
    r = b.copy()
    d = r.copy()
    rr = r @ r
    products = 0
    for _ in range(max_iter):
        if np.sqrt(rr) <= tol * np.sqrt(b @ b):
            break
        Hd = hv(d)
        products += 1
        alpha = rr / (d @ Hd)
        p += alpha * d
        r -= alpha * Hd
        rr, rr_old = r @ r, rr
        d = r + (rr / rr_old) * d
    return p, products


def newton_cg(w, X, y, lam, tol=1e-8, max_iter=50):
    """Truncated Newton: each step solves H p = -g by conjugate gradients on hvps."""
    losses, products = [loss(w, X, y, lam)], 0
    for _ in range(max_iter):
        g = gradient(w, X, y, lam)
        if np.linalg.norm(g) < tol:
            break
        p, k = conjugate_gradients(lambda v, w=w: hessian_vector(w, X, y, lam, v), -g)
        products += k
        w = w + p  # a full Newton step: the loss is convex and smooth
        losses.append(loss(w, X, y, lam))
    return w, losses, products


def gradient_descent(w, X, y, lam, tol=1e-8, max_iter=20000):
    """Plain gradient descent with the step 1/L, L a bound on the Hessian's norm."""
    L = 0.25 * np.linalg.norm(X, 2) ** 2 / len(X) + lam
    losses = [loss(w, X, y, lam)]
    for _ in range(max_iter):
        g = gradient(w, X, y, lam)
        if np.linalg.norm(g) < tol:
            break
        w = w - g / L
        losses.append(loss(w, X, y, lam))
    return w, losses


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default="newton.png", help="where to save the plot")
    parser.add_argument("--max-gd", type=int, default=20000, help="gradient descent's limit")
    args = parser.parse_args(argv)

    X, y = make_problem()
    lam = 1e-3
    w0 = np.zeros(X.shape[1])
    w_newton, newton_losses, products = newton_cg(w0, X, y, lam)
    w_gd, gd_losses = gradient_descent(w0, X, y, lam, max_iter=args.max_gd)
    best = min(newton_losses[-1], gd_losses[-1])
    print(
        f"Newton-CG:        {len(newton_losses) - 1:6d} iterations ({products} hvps), "
        f"loss {newton_losses[-1]:.10f}"
    )
    print(
        f"gradient descent: {len(gd_losses) - 1:6d} iterations, loss {gd_losses[-1]:.10f}"
        + ("" if np.linalg.norm(gradient(w_gd, X, y, lam)) < 1e-8 else " (not converged)")
    )
    print(f"|w_newton - w_gd| = {np.linalg.norm(w_newton - w_gd):.2e}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
    else:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.semilogy(np.array(gd_losses) - best + 1e-16, label="gradient descent")
        ax.semilogy(np.array(newton_losses) - best + 1e-16, "o-", label="Newton-CG (hvp)")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss - best loss")
        ax.set_title("logistic regression")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot saved to {args.plot}")
    return {
        "newton_iterations": len(newton_losses) - 1,
        "gd_iterations": len(gd_losses) - 1,
        "hvps": products,
        "distance": float(np.linalg.norm(w_newton - w_gd)),
    }


if __name__ == "__main__":
    main()
