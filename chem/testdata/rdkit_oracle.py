"""RDKit oracle for the chem package tests.

Reads a JSON request from the file named by argv[1] and prints a JSON
answer on stdout:

  request  {"smiles": [s...], "same": [[s1, s2]...],
            "molblocks": [s...], "sdf": [path...]}
  answer   {"smiles": [props or null...], "same": [bool...],
            "molblocks": [{"plain": block, "explicit_h": block,
                           "plain_ok": bool, "explicit_h_ok": bool} or null...],
            "sdf": [props or null...]}

props is {"formula", "mw", "heavy", "hbd", "hba", "canonical"} as RDKit
computes them; null means RDKit rejects the input.

Stereochemistry requests (TestRDKitStereo) add

  request  {"stereo": [s...], "stereo_3d_every": n, "stereo_blocks": [block...]}
  answer   {"stereo": [{"canonical": c, "blocks": [{"kind": "2D" or "3D",
                         "block": b, "readback": c or null}...]} or null...],
            "stereo_blocks": [canonical isomeric SMILES or null...]}

For each SMILES RDKit writes a 2D molblock (Compute2DCoords, wedged
bonds) and, for every n-th one, a 3D molblock with hydrogens
(EmbedMolecule(randomSeed=42)) where embedding succeeds; readback is the
canonical isomeric SMILES of RDKit reading its own block back. Each of
stereo_blocks is read by RDKit and answered by its canonical SMILES.
"""
import json
import sys

from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem, Descriptors, Lipinski, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")


def props(mol):
    if mol is None:
        return None
    return {
        "formula": rdMolDescriptors.CalcMolFormula(mol),
        "mw": Descriptors.MolWt(mol),
        "heavy": mol.GetNumHeavyAtoms(),
        "hbd": Lipinski.NumHDonors(mol),
        "hba": Lipinski.NumHAcceptors(mol),
        "canonical": Chem.MolToSmiles(mol),
    }


def canonical(s):
    mol = Chem.MolFromSmiles(s)
    return None if mol is None else Chem.MolToSmiles(mol)


def molblocks(s):
    mol = Chem.MolFromSmiles(s)
    if mol is None:
        return None
    plain = Chem.MolToMolBlock(mol)
    explicit_h = Chem.MolToMolBlock(Chem.AddHs(mol))
    return {
        "plain": plain.split("M  END")[0],
        "explicit_h": explicit_h.split("M  END")[0],
        # whether RDKit reads its own block back
        "plain_ok": Chem.MolFromMolBlock(plain) is not None,
        "explicit_h_ok": Chem.MolFromMolBlock(explicit_h) is not None,
    }


def readback(block):
    mol = Chem.MolFromMolBlock(block)
    return None if mol is None else Chem.MolToSmiles(mol)


def stereo(k, s, every):
    mol = Chem.MolFromSmiles(s)
    if mol is None:
        return None
    flat = Chem.Mol(mol)
    AllChem.Compute2DCoords(flat)
    block = Chem.MolToMolBlock(flat)
    blocks = [{"kind": "2D", "block": block, "readback": readback(block)}]
    if every > 0 and k % every == 0:
        withh = Chem.AddHs(mol)
        if AllChem.EmbedMolecule(withh, randomSeed=42) == 0:
            block = Chem.MolToMolBlock(withh)
            blocks.append({"kind": "3D", "block": block, "readback": readback(block)})
    return {"canonical": Chem.MolToSmiles(mol), "blocks": blocks}


def main():
    with open(sys.argv[1]) as f:
        req = json.load(f)
    ans = {
        "smiles": [props(Chem.MolFromSmiles(s)) for s in req.get("smiles") or []],
        "same": [canonical(a) is not None and canonical(a) == canonical(b)
                 for a, b in req.get("same") or []],
        "molblocks": [molblocks(s) for s in req.get("molblocks") or []],
        "sdf": [props(Chem.MolFromMolFile(p)) for p in req.get("sdf") or []],
        "stereo": [stereo(k, s, req.get("stereo_3d_every") or 0)
                   for k, s in enumerate(req.get("stereo") or [])],
        "stereo_blocks": [readback(b) for b in req.get("stereo_blocks") or []],
    }
    json.dump(ans, sys.stdout)


if __name__ == "__main__":
    main()
