import sys, io, contextlib
import analyze
f3 = lambda t: f"{t[0]:+.2f} [{t[1]:+.2f}, {t[2]:+.2f}]"
tags = sys.argv[1:]
print("| run | rule | grids | VE PGR | VE sel. {set} | best reg. on test (PGR) | VE − best-on-test | VE − weak-val-chosen family (pair) | VE − weak-val-chosen per seed | VE − xent |")
print("|---|---|---|---|---|---|---|---|---|---|")
for tag in tags:
    adam = "adam" in tag
    for rule in ("agree", "ce", "gt50", "gt100", "gt300", "test"):
        for wide in (False, True):
            with contextlib.redirect_stdout(io.StringIO()):
                o = analyze.analyze(tag, rule, adam=adam, wide=wide, verbose=False)
            sel = "{" + ",".join(sorted(set(o["ve_sel"]), key=float)) + "}"
            print(f"| {tag} (n={o['n']}) | {rule} | {'wide' if wide else 'orig'} | {o['pgr']['ve']:+.2f} | {sel} | {o['best_test']} ({o['pgr'][o['best_test']]:+.2f}) | {f3(o['d_best'])} | {o['fam_best']}: {f3(o['d_fam'])} | {f3(o['d_val'])} | {f3(o['d_xent'])} |")
