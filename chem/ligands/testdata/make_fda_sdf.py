#!/usr/bin/python3
"""Writes fda_approved_drugs.sdf from ../../../testdata/smiles/fda_approved_drugs.csv.

Run once from this directory with Debian's RDKit (python3-rdkit):

    /usr/bin/python3 make_fda_sdf.py

Each drug becomes one record with 2D coordinates (Kekulé bonds, implicit
hydrogens), the drug name on the title line and these data items:
ID (FDA-01, ...), SMILES (as in the CSV), FORMULA and MW (RDKit's
CalcMolFormula and average MolWt), used by the Go tests as the oracle.
A last record repeats Metformin with explicit hydrogens (AddHs) to
exercise hydrogen atoms in the connection table.
"""
import csv

from rdkit import Chem, rdBase
from rdkit.Chem import AllChem, Descriptors, rdMolDescriptors


def record(writer, name, ident, smiles, add_hs=False):
    mol = Chem.MolFromSmiles(smiles)
    if add_hs:
        mol = Chem.AddHs(mol)
    AllChem.Compute2DCoords(mol)
    mol.SetProp("_Name", name)
    mol.SetProp("ID", ident)
    mol.SetProp("SMILES", smiles)
    mol.SetProp("FORMULA", rdMolDescriptors.CalcMolFormula(mol))
    mol.SetProp("MW", "%.3f" % Descriptors.MolWt(mol))
    writer.write(mol)


def main():
    with open("../../../testdata/smiles/fda_approved_drugs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    writer = Chem.SDWriter("fda_approved_drugs.sdf")
    for i, row in enumerate(rows, 1):
        record(writer, row["Drug_Name"], "FDA-%02d" % i, row["SMILES"])
    metformin = next(r for r in rows if r["Drug_Name"] == "Metformin")
    record(writer, "Metformin (explicit H)", "FDA-%02d" % (len(rows) + 1), metformin["SMILES"], add_hs=True)
    writer.close()
    print("RDKit", rdBase.rdkitVersion, "wrote", len(rows) + 1, "records")


if __name__ == "__main__":
    main()
