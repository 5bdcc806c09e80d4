"""Ligand preparation and pose export for OMTX-Hub's Vina adapter.

Run by the Go package omtx/gpu/vina with the configured Python (RDKit
required). Two commands:

  ligprep.py prepare SMILES NCONF SEED PROTONATE OUT_SDF OUT_JSON
      Parse SMILES, optionally protonate basic aliphatic amines (pH ~7.4),
      add hydrogens, embed NCONF ETKDGv3 conformers with SEED, MMFF-optimise
      them and write them to OUT_SDF (one record per conformer, identical
      atom order). OUT_JSON gets {"smiles", "formula", "charge",
      "conformers", "rdkit"} or {"error": message} when RDKit cannot use the
      SMILES (exit status 0 in both cases; a crash is a non-zero status).

  ligprep.py poses TEMPLATE_SDF VINA_PDBQT NAME CONFORMER OUT_SDF
      Write every MODEL of a Vina output (from a ligand converted by
      `obabel -xp`, so atom serial numbers are template atom numbers) as an
      SDF record: template bond orders and charges, docked heavy-atom
      coordinates, hydrogens rebuilt, title NAME, data items affinity
      (kcal/mol), rmsd_lb, rmsd_ub, rank and conformer.
"""
import json
import sys

from rdkit import Chem, RDLogger, rdBase
from rdkit.Chem import AllChem, rdMolTransforms
from rdkit.Chem.rdMolDescriptors import CalcMolFormula
from rdkit.Geometry import Point3D

RDLogger.DisableLog("rdApp.*")

# An sp3 amine nitrogen that is basic at pH 7.4: not an amide, aniline,
# sulfonamide, hydrazine, hydroxylamine, enamine, N-oxide, nitrile or imine.
BASIC_AMINE = Chem.MolFromSmarts(
    "[NX3;+0;!$(N[a]);!$(N[#6]=[#7,#8,#16]);!$(N[#6]#[#7]);!$(N[#16,#15]);"
    "!$(N[#7,#8]);!$(N[#6]=[#6]);!$(N[#6]=[#6,#7,#8])]"
)


# A single, non-ring bond from an NH or N to a carbon double-bonded (or
# aromatic-bonded) to N, O or S: amides, amidines, aminopyrimidines.
# Open Babel's PDBQT writer does not make these bonds rotatable.
FROZEN = Chem.MolFromSmarts("[#7X3]-!@[#6]=,:[#7,#8,#16]")


def relax(mol, cid, mmff):
    """Optimise conformer cid and return its energy (kcal/mol)."""
    if mmff:
        ff = AllChem.MMFFGetMoleculeForceField(mol, AllChem.MMFFGetMoleculeProperties(mol), confId=cid)
    else:
        ff = AllChem.UFFGetMoleculeForceField(mol, confId=cid)
    ff.Minimize(maxIts=2000)
    return ff.CalcEnergy()


def frozen_torsions(mol):
    """Dihedrals (4 atom indices) about the bonds that Vina will not rotate,
    each with whether flipping it makes sense (not for amides, esters and
    thioamides, which keep their trans state)."""
    out, bonds = [], set()
    for n, c, _ in mol.GetSubstructMatches(FROZEN):
        if (n, c) in bonds:
            continue
        a = [x.GetIdx() for x in mol.GetAtomWithIdx(n).GetNeighbors() if x.GetIdx() != c and x.GetAtomicNum() > 1]
        d = [x.GetIdx() for x in mol.GetAtomWithIdx(c).GetNeighbors() if x.GetIdx() != n and x.GetAtomicNum() > 1]
        if a and d:
            bonds.add((n, c))
            carbonyl = any(b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(mol.GetAtomWithIdx(c)).GetAtomicNum() in (8, 16)
                           for b in mol.GetAtomWithIdx(c).GetBonds())
            out.append(((min(a), n, c, min(d)), not carbonyl))
    return out


def protonate(mol):
    """Protonate the most basic aliphatic amines, at most one per group of
    nitrogens within three bonds of each other (piperazine, ethylenediamine:
    the second pKa is far below 7)."""
    candidates = [m[0] for m in mol.GetSubstructMatches(BASIC_AMINE)]
    if not candidates:
        return mol, 0
    dist = Chem.GetDistanceMatrix(mol)

    def penalty(i):
        # Amines on a benzylic or allylic carbon are less basic.
        p = 0
        for c in mol.GetAtomWithIdx(i).GetNeighbors():
            for n in c.GetNeighbors():
                if n.GetIdx() != i and (n.GetIsAromatic() or n.GetHybridization() == Chem.HybridizationType.SP2):
                    p += 1
        return p

    chosen = []
    for i in sorted(candidates, key=lambda i: (penalty(i), i)):
        if all(dist[i][j] > 3 for j in chosen):
            chosen.append(i)
    rw = Chem.RWMol(mol)
    for i in chosen:
        a = rw.GetAtomWithIdx(i)
        a.SetFormalCharge(1)
        a.SetNumExplicitHs(a.GetTotalNumHs() + 1)
        a.SetNoImplicit(True)
    out = rw.GetMol()
    Chem.SanitizeMol(out)
    return out, len(chosen)


def prepare(smiles, nconf, seed, prot, out_sdf, out_json):
    def fail(msg):
        with open(out_json, "w") as f:
            json.dump({"error": msg}, f)

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return fail("RDKit cannot parse the SMILES")
    frags = Chem.GetMolFrags(mol, asMols=True)
    if len(frags) > 1:
        # Keep the largest fragment (drop counter-ions and salts).
        mol = max(frags, key=lambda m: m.GetNumHeavyAtoms())
    if mol.GetNumHeavyAtoms() < 2:
        return fail("the ligand is too small to dock (fewer than 2 heavy atoms)")
    protonated = 0
    if prot:
        mol, protonated = protonate(mol)
    mol = Chem.AddHs(mol)
    # A pool of conformers to choose from: Vina keeps ring shapes and the
    # torsions Open Babel does not make rotatable as they are given.
    pool = max(3 * nconf, 10)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    params.pruneRmsThresh = 0.5
    ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=pool, params=params))
    if not ids:
        params.useRandomCoords = True
        ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=pool, params=params))
    if not ids:
        return fail("RDKit cannot embed the molecule in 3D")
    mmff = AllChem.MMFFHasAllMoleculeParams(mol)
    if mmff:
        res = AllChem.MMFFOptimizeMoleculeConfs(mol, maxIters=2000)
    else:
        res = AllChem.UFFOptimizeMoleculeConfs(mol, maxIters=2000)
    energy = {cid: e for cid, (_, e) in zip(ids, res)}
    frozen = frozen_torsions(mol)
    lowest = min(energy.values())
    base = ids[0]
    # Both planar states of every flippable frozen torsion, built from the
    # first conformer (at most 16 combinations) and relaxed.
    flips = [q for q, flippable in frozen if flippable][:4]
    for combo in range(1, 1 << len(flips)):
        c = Chem.Conformer(mol.GetConformer(base))
        for bit, q in enumerate(flips):
            if combo >> bit & 1:
                d = rdMolTransforms.GetDihedralDeg(c, *q)
                rdMolTransforms.SetDihedralDeg(c, *q, d + 180)
        cid = mol.AddConformer(c, assignId=True)
        energy[cid] = relax(mol, cid, mmff)
        ids.append(cid)
    sig = {cid: tuple(abs(rdMolTransforms.GetDihedralDeg(mol.GetConformer(cid), *q)) >= 90 for q, _ in frozen)
           for cid in ids}
    # In embedding order (sorting by MMFF energy in vacuum favours folded
    # conformers and docked worse), but first one conformer per state of
    # the frozen torsions (cis/trans) within 10 kcal/mol of the lowest, so
    # that a wrong frozen state in one conformer is covered by another.
    order = [c for c in ids if energy[c] <= lowest + 10] + [c for c in ids if energy[c] > lowest + 10]
    chosen, seen = [], set()
    for cid in order:
        if sig[cid] not in seen and len(chosen) < nconf and energy[cid] <= lowest + 10:
            chosen.append(cid)
            seen.add(sig[cid])
    for cid in order:
        if cid not in chosen and len(chosen) < nconf:
            chosen.append(cid)
    w = Chem.SDWriter(out_sdf)
    for i, cid in enumerate(chosen):
        mol.SetProp("_Name", "conformer%d" % (i + 1))
        mol.SetProp("mmff_energy", "%.3f" % energy[cid])
        mol.SetProp("frozen_states", "".join("t" if x else "c" for x in sig[cid]))
        w.write(mol, confId=cid)
    w.close()
    with open(out_json, "w") as f:
        json.dump({
            "smiles": Chem.MolToSmiles(Chem.RemoveHs(mol)),
            "formula": CalcMolFormula(mol),
            "charge": Chem.GetFormalCharge(mol),
            "protonated_amines": protonated,
            "conformers": len(chosen),
            "embedded": len(ids),
            "frozen_torsions": len(frozen),
            "flipped_torsions": len(flips),
            "rdkit": rdBase.rdkitVersion,
        }, f)


def read_models(path):
    models, cur = [], None
    with open(path) as f:
        for line in f:
            if line.startswith("MODEL"):
                cur = {"coords": {}, "result": None}
                models.append(cur)
            elif line.startswith("REMARK VINA RESULT:") and cur is not None:
                cur["result"] = [float(x) for x in line.split()[3:6]]
            elif line.startswith(("ATOM", "HETATM")) and cur is not None:
                serial = int(line[6:11])
                cur["coords"][serial] = (float(line[30:38]), float(line[38:46]), float(line[46:54]))
    if not models:
        raise SystemExit("no MODEL in " + path)
    return models


def poses(template_sdf, pdbqt, name, conformer, out_sdf):
    template = next(iter(Chem.SDMolSupplier(template_sdf, removeHs=False)))
    w = Chem.SDWriter(out_sdf)
    for rank, m in enumerate(read_models(pdbqt), 1):
        mol = Chem.Mol(template)
        conf = mol.GetConformer()
        for a in mol.GetAtoms():
            if a.GetAtomicNum() == 1:
                continue
            xyz = m["coords"].get(a.GetIdx() + 1)
            if xyz is None:
                raise SystemExit("pose %d lacks template atom %d" % (rank, a.GetIdx() + 1))
            conf.SetAtomPosition(a.GetIdx(), Point3D(*xyz))
        heavy = Chem.RemoveHs(mol)
        mol = Chem.AddHs(heavy, addCoords=True)
        mol.SetProp("_Name", name)
        aff, lb, ub = m["result"]
        mol.SetProp("affinity", "%.3f" % aff)
        mol.SetProp("rmsd_lb", "%.3f" % lb)
        mol.SetProp("rmsd_ub", "%.3f" % ub)
        mol.SetProp("rank", str(rank))
        mol.SetProp("conformer", conformer)
        w.write(mol)
    w.close()


def main(argv):
    if len(argv) == 7 and argv[0] == "prepare":
        prepare(argv[1], int(argv[2]), int(argv[3]), argv[4] == "1", argv[5], argv[6])
    elif len(argv) == 6 and argv[0] == "poses":
        poses(*argv[1:6])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
