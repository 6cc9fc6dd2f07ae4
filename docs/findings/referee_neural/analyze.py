import sys, pickle, numpy as np
sys.path.insert(0, "/work/wt/REF")
from bayes_w2s.neural.stats import paired_pgr_diff

def load(tag):
    return pickle.load(open(f"/tmp/ref_runs/{tag}.pkl", "rb"))

def fams(adam=False, wide=False):
    F = {}
    F["ve"] = [f"ve+budget({b:g})" for b in ((1, 4, 10, 40, 100, 400, 1000, 4000, 10000, 40000, 100000) if wide else (4, 40, 400, 4000))]
    F["wd"] = [f"xent+wd({w:g})" for w in ((10, 1, 0.1, 0.01, 0.001) if wide else (10, 1, 0.1))]
    F["lr"] = [f"xent@lr={l:g}" for l in (((1e-5, 1e-4, 1e-3, 1e-2) if adam else (1e-4, 1e-3, 1e-2, 0.1)) if wide else ((1e-5,1e-4,1e-3) if adam else (1e-4, 1e-3, 1e-2)))]
    if not adam:
        F["cap"] = [f"xent+cap({c:g})" for c in ((0.01, 0.03, 0.1, 0.3, 1, 3) if wide else (0.03, 0.1, 0.3, 1))]
    F["centroid"] = ["centroid"]
    return F

def score(row, rule):
    if rule == "agree": return row["val_agree"]
    if rule == "ce": return -row["val_ce"]
    if rule.startswith("gt"):
        n = int(rule[2:]); return row["gt_correct"][-n:].mean()
    if rule == "test": return row["acc"]

def pick(rows, labels, rule):
    labels = [l if l != "xent@lr=0.1" else "xent" for l in labels]
    sc = [score(rows[l], rule) for l in labels]
    i = int(np.argmax(sc))
    return labels[i], rows[labels[i]]["acc"], sc[i]

def analyze(tag, rule="agree", adam=False, wide=False, verbose=True, sel_rule_base=None):
    d = load(tag); S = sorted(d["seeds"])
    F = fams(adam, wide)
    aw = np.array([d["seeds"][s]["acc_weak"] for s in S]); ac = np.array([d["seeds"][s]["acc_ceiling"] for s in S])
    acc = {}; chosen = {}
    for f, labs in F.items():
        res = [pick(d["seeds"][s]["rows"], labs, rule) for s in S]
        acc[f] = np.array([r[1] for r in res]); chosen[f] = [r[0] for r in res]
    acc["xent"] = np.array([d["seeds"][s]["rows"]["xent"]["acc"] for s in S])
    if "xent+stop(weak-val)" in d["seeds"][S[0]]["rows"]:
        acc["stop"] = np.array([d["seeds"][s]["rows"]["xent+stop(weak-val)"]["acc"] for s in S])
    pgr = lambda a: (a.mean() - aw.mean()) / (ac.mean() - aw.mean())
    base = [f for f in F if f != "ve"] + (["stop"] if "stop" in acc and rule == "agree" else [])
    best_test = max(base, key=lambda f: pgr(acc[f]))
    # val-chosen comparator: per seed, baseline family whose selected value has the best val score (same rule)
    vc = []
    for k, s in enumerate(S):
        rows = d["seeds"][s]["rows"]
        cands = []
        for f in [f for f in F if f != "ve"]:
            lab, a, sc = pick(rows, F[f], rule)
            if rule.startswith("gt") and f == "centroid":
                sc = score(rows["centroid"], rule)
            cands.append((sc, -len(cands), a, f))
        vc.append(max(cands))
    acc["valchosen"] = np.array([c[2] for c in vc])
    # pair-level: one family for all seeds, highest mean val score of its selected value
    fam_sc = {}
    for f in [f for f in F if f != "ve"]:
        fam_sc[f] = np.mean([pick(d["seeds"][s]["rows"], F[f], rule)[2] if not (rule.startswith("gt") and f == "centroid") else score(d["seeds"][s]["rows"]["centroid"], rule) for s in S])
    fam_best = max(fam_sc, key=fam_sc.get)
    out = dict(tag=tag, rule=rule, wide=wide, n=len(S), weak=aw.mean(), ceil=ac.mean(),
               pgr={f: pgr(a) for f, a in acc.items()}, best_test=best_test,
               d_best=paired_pgr_diff(aw, ac, acc["ve"], acc[best_test]),
               d_val=paired_pgr_diff(aw, ac, acc["ve"], acc["valchosen"]),
               d_xent=paired_pgr_diff(aw, ac, acc["ve"], acc["xent"]),
               fam_best=fam_best, d_fam=paired_pgr_diff(aw, ac, acc["ve"], acc[fam_best]),
               ve_sel=[c.split("(")[1].rstrip(")") for c in chosen["ve"]],
               valchosen=[c[3] for c in vc], chosen=chosen)
    if verbose:
        f3 = lambda t: f"{t[0]:+.2f} [{t[1]:+.2f}, {t[2]:+.2f}]"
        print(f"{tag} rule={rule} wide={wide} seeds={len(S)} weak={aw.mean():.3f} ceil={ac.mean():.3f}")
        print("  PGR: " + ", ".join(f"{f} {v:+.2f}" for f, v in out["pgr"].items()))
        print(f"  VE sel budgets: {out['ve_sel']}")
        print(f"  VE-best_test({best_test}) {f3(out['d_best'])} | VE-valchosen {f3(out['d_val'])} (fams {out['valchosen']}) | VE-valfam({fam_best}) {f3(out['d_fam'])} | VE-xent {f3(out['d_xent'])}")
    return out

if __name__ == "__main__":
    tag = sys.argv[1]; adam = "adam" in tag
    for wide in (False, True):
        for rule in ("agree", "ce", "gt50", "gt100", "gt300", "test"):
            try: analyze(tag, rule, adam=adam, wide=wide)
            except Exception as e: print(tag, rule, "ERR", e)

def claim3(tag):
    d = load(tag); S = sorted(d["seeds"])
    aw = np.array([d["seeds"][s]["acc_weak"] for s in S]); ac = np.array([d["seeds"][s]["acc_ceiling"] for s in S])
    pgr = lambda a: (a.mean() - aw.mean()) / (ac.mean() - aw.mean())
    A = lambda l: np.array([d["seeds"][s]["rows"][l]["acc"] for s in S])
    f3 = lambda t: f"{t[0]:+.2f} [{t[1]:+.2f}, {t[2]:+.2f}]"
    ve = np.array([pick(d["seeds"][s]["rows"], fams()["ve"], "agree")[1] for s in S])
    print(f"{tag} claim3 seeds={len(S)}")
    for l in ["xent", "xent@steps=10", "xent@steps=30", "xent@steps=100", "xent@steps=300", "xent+stop(weak-val)"]:
        print(f"  {l:22s} PGR {pgr(A(l)):+.2f}  -xent {f3(paired_pgr_diff(aw, ac, A(l), A('xent')))}  VE(sel)- {f3(paired_pgr_diff(aw, ac, ve, A(l)))}")
    steps = ["xent@steps=10", "xent@steps=30", "xent@steps=100", "xent@steps=300", "xent"]
    for rule in ("agree", "ce"):
        res = [pick(d["seeds"][s]["rows"], steps, rule) for s in S]
        a = np.array([r[1] for r in res])
        print(f"  steps selected ({rule}): {[r[0] for r in res]} PGR {pgr(a):+.2f} -xent {f3(paired_pgr_diff(aw, ac, a, A('xent')))} VE(sel)-it {f3(paired_pgr_diff(aw, ac, ve, a))}")
    bs = [d["seeds"][s]["rows"]["xent+stop(weak-val)"]["best_step"] for s in S]
    va = lambda l: np.mean([d["seeds"][s]["rows"][l]["val_agree"] for s in S])
    print("  stop best_step:", bs, " val_agree stop %.3f xent %.3f" % (va("xent+stop(weak-val)"), va("xent")))
    for l in steps + ["xent+stop(weak-val)", "centroid", "ve+budget(40)", "ve+budget(4000)"]:
        print(f"   {l:22s} val_agree {va(l):.3f} test acc {A(l).mean():.3f}")
