"""Trains the easy-VQA edge and cloud models (JAX on CPU, fixed seeds) -> .cache/vqa/params.npz.

Stage 1: edge encoder + edge head + cloud head jointly (cloud sees all 16 FP32 patch
         features), so the 4x4 patch features carry what the cloud needs.
Stage 2: encoder frozen; the cloud head is fine-tuned on the compact tensor exactly as the
         agent will send it: kept patches only (25% all 16, 20% random k, 55% probe-energy
         top-k; k uniform in 3..16), int8 with a per-request scale, dequantised.
Questions: MiniLM embeddings plus small Gaussian noise (re-normalised), then standardised
(q - q_mu) * q_scale; q_mu/q_scale are saved with the weights and folded in by export.py.
Usage: python train.py [--epochs1 N] [--epochs2 N]
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nets
import vqa_common as C

Q_NOISE = 0.002  # per-dim Gaussian noise on question embeddings (robustness to the INT8 text encoder)


def sample_masks(rng, energy):
    b = energy.shape[0]
    m = np.ones((b, C.N_PATCH), np.float32)
    mode = rng.random(b)
    k = rng.integers(3, C.N_PATCH + 1, b)
    order = np.argsort(-energy, axis=1, kind="stable")
    for i in range(b):
        if mode[i] < 0.25:
            continue
        m[i] = 0.0
        idx = rng.permutation(C.N_PATCH)[:k[i]] if mode[i] < 0.45 else order[i, :k[i]]
        m[i, idx] = 1.0
    return m


def noisy_q(rng, q, mu, scale):
    q = q + rng.standard_normal(q.shape).astype(np.float32) * Q_NOISE
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    return (q - mu) * scale


def ce(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs1", type=int, default=15)
    ap.add_argument("--epochs2", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()

    d = C.load_data()
    qemb = C.question_embeddings(d["qtext"])
    q_mu = qemb.mean(0).astype(np.float32)
    q_scale = np.float32(1.0 / (qemb - q_mu).std())
    nq = lambda q: noisy_q(rng, q, q_mu, q_scale)
    tr = d["train"]
    images = C.to_nchw(tr["images"])
    rng = np.random.default_rng(C.SEED)
    params = {"edge": nets.init_edge(rng), "cloud": nets.init_cloud(rng)}
    params = jax.tree_util.tree_map(jnp.asarray, params)

    n = len(tr["q"])
    steps1 = args.epochs1 * (n // args.batch)
    opt1 = optax.adamw(optax.cosine_decay_schedule(3e-3, steps1), weight_decay=1e-4)
    st1 = opt1.init(params)

    def loss1(p, img, q, mask, y):
        probe, feat, emb, logits = nets.edge_forward(p["edge"], img, q)
        cl = nets.cloud_forward(p["cloud"], nets.features_to_patches(feat), mask, q)
        return ce(logits, y) + ce(cl, y), (logits, cl)

    @jax.jit
    def step1(p, s, img, q, mask, y):
        (l, (lg, cl)), g = jax.value_and_grad(loss1, has_aux=True)(p, img, q, mask, y)
        u, s = opt1.update(g, s, p)
        return optax.apply_updates(p, u), s, l, (lg.argmax(1) == y).mean(), (cl.argmax(1) == y).mean()

    t0 = time.time()
    for ep in range(args.epochs1):
        perm = rng.permutation(n)
        acc_e, acc_c, ls = [], [], []
        for b in range(n // args.batch):
            sel = perm[b * args.batch:(b + 1) * args.batch]
            img = images[tr["i"][sel]]
            q = nq(qemb[tr["q"][sel]])
            mask = np.ones((len(sel), C.N_PATCH), np.float32)
            params, st1, l, ae, ac = step1(params, st1, img, q, mask, tr["a"][sel])
            ls.append(float(l)); acc_e.append(float(ae)); acc_c.append(float(ac))
        print(f"stage1 epoch {ep + 1}/{args.epochs1}: loss {np.mean(ls):.4f} edge acc {np.mean(acc_e):.4f} "
              f"cloud acc {np.mean(acc_c):.4f} ({time.time() - t0:.0f} s)", flush=True)

    # Stage 2: frozen encoder, cloud on int8 compact tensors.
    enc = jax.jit(lambda p, x: nets.edge_encoder(p, x))
    feats, energies = [], []
    for b in range(0, len(images), 250):
        probe, f = enc(params["edge"], images[b:b + 250])
        feats.append(np.asarray(f)); energies.append(C.probe_patch_energy(np.asarray(probe)))
    feats, energies = np.concatenate(feats), np.concatenate(energies)

    cloud = params["cloud"]
    steps2 = args.epochs2 * (n // args.batch)
    opt2 = optax.adamw(optax.cosine_decay_schedule(1e-3, steps2), weight_decay=1e-4)
    st2 = opt2.init(cloud)

    @jax.jit
    def step2(p, s, patches, q, mask, y):
        def lf(p):
            cl = nets.cloud_forward(p, patches, mask, q)
            return ce(cl, y), cl
        (l, cl), g = jax.value_and_grad(lf, has_aux=True)(p)
        u, s = opt2.update(g, s, p)
        return optax.apply_updates(p, u), s, l, (cl.argmax(1) == y).mean()

    for ep in range(args.epochs2):
        perm = rng.permutation(n)
        acc, ls = [], []
        for b in range(n // args.batch):
            sel = perm[b * args.batch:(b + 1) * args.batch]
            ii = tr["i"][sel]
            mask = sample_masks(rng, energies[ii])
            qi, scale = C.quantize_compact(feats[ii], mask)
            patches = qi.astype(np.float32) * scale[:, :, None]
            cloud, st2, l, a = step2(cloud, st2, patches, nq(qemb[tr["q"][sel]]), mask, tr["a"][sel])
            ls.append(float(l)); acc.append(float(a))
        print(f"stage2 epoch {ep + 1}/{args.epochs2}: loss {np.mean(ls):.4f} cloud acc {np.mean(acc):.4f} "
              f"({time.time() - t0:.0f} s)", flush=True)
    params["cloud"] = cloud

    flat = {f"{g}/{k}": np.asarray(v) for g in params for k, v in params[g].items()}
    flat["meta/q_mu"], flat["meta/q_scale"] = q_mu, np.array(q_scale, np.float32)
    np.savez(os.path.join(C.CACHE, "params.npz"), **flat)
    print(f"saved {os.path.join(C.CACHE, 'params.npz')} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
