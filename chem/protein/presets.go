package protein

// Per-model sequence presets. Sources (the models' residue tables):
//
//   - Boltz (jwohlwend/boltz, src/boltz/data/const.py,
//     prot_letter_to_token): the 20 standard letters map to their
//     residues; X, U, O, B, Z and J all map to UNK. BoltzOptions accepts X
//     and U/O; the ambiguity codes B, Z and J stay rejected by the hub's
//     policy, since Boltz would silently model them as UNK.
//   - Chai-1 (chaidiscovery/chai-lab, chai_lab/data/residue_constants.py,
//     restype_1to3_with_x, used by chai_lab/data/parsing/fasta.py): the 20
//     standard letters plus X (UNK) only. ChaiOptions accepts X and rejects
//     U/O and the ambiguity codes.
//
// Length limits are the package defaults.
var (
	BoltzOptions = Options{AllowUnknown: true}
	ChaiOptions  = Options{AllowUnknown: true, RejectRare: true}
)
