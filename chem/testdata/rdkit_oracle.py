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
"""
import json
import sys

from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors, Lipinski, rdMolDescriptors

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


def main():
    with open(sys.argv[1]) as f:
        req = json.load(f)
    ans = {
        "smiles": [props(Chem.MolFromSmiles(s)) for s in req.get("smiles") or []],
        "same": [canonical(a) is not None and canonical(a) == canonical(b)
                 for a, b in req.get("same") or []],
        "molblocks": [molblocks(s) for s in req.get("molblocks") or []],
        "sdf": [props(Chem.MolFromMolFile(p)) for p in req.get("sdf") or []],
    }
    json.dump(ans, sys.stdout)


if __name__ == "__main__":
    main()
