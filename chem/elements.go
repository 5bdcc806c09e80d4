package chem

// element describes one chemical element as RDKit's periodic table does.
type element struct {
	Symbol   string
	Number   int     // atomic number
	Weight   float64 // average atomic weight (RDKit's value)
	Outer    int     // outer-shell electrons (RDKit's value)
	Valences []int   // allowed valences, lowest first; -1 means any
}

// elements lists every element by atomic number, with RDKit 2022.09's
// average weights, outer electron counts and allowed valences.
var elements = []element{
	{"*", 0, 0, 0, []int{-1}},
	{"H", 1, 1.008, 1, []int{1}},
	{"He", 2, 4.003, 2, []int{0}},
	{"Li", 3, 6.941, 1, []int{1}},
	{"Be", 4, 9.012, 2, []int{2}},
	{"B", 5, 10.812, 3, []int{3}},
	{"C", 6, 12.011, 4, []int{4}},
	{"N", 7, 14.007, 5, []int{3}},
	{"O", 8, 15.999, 6, []int{2}},
	{"F", 9, 18.998, 7, []int{1}},
	{"Ne", 10, 20.18, 8, []int{0}},
	{"Na", 11, 22.99, 1, []int{1}},
	{"Mg", 12, 24.305, 2, []int{2, -1}},
	{"Al", 13, 26.982, 3, []int{3, 6}},
	{"Si", 14, 28.086, 4, []int{4, 6}},
	{"P", 15, 30.974, 5, []int{3, 5, 7}},
	{"S", 16, 32.067, 6, []int{2, 4, 6}},
	{"Cl", 17, 35.453, 7, []int{1}},
	{"Ar", 18, 39.948, 8, []int{0}},
	{"K", 19, 39.098, 1, []int{1}},
	{"Ca", 20, 40.078, 2, []int{2, -1}},
	{"Sc", 21, 44.956, 3, []int{-1}},
	{"Ti", 22, 47.867, 4, []int{-1}},
	{"V", 23, 50.942, 5, []int{-1}},
	{"Cr", 24, 51.996, 6, []int{-1}},
	{"Mn", 25, 54.938, 7, []int{-1}},
	{"Fe", 26, 55.845, 8, []int{-1}},
	{"Co", 27, 58.933, 9, []int{-1}},
	{"Ni", 28, 58.693, 10, []int{-1}},
	{"Cu", 29, 63.546, 11, []int{-1}},
	{"Zn", 30, 65.39, 2, []int{-1}},
	{"Ga", 31, 69.723, 3, []int{3}},
	{"Ge", 32, 72.61, 4, []int{4}},
	{"As", 33, 74.922, 5, []int{3, 5, 7}},
	{"Se", 34, 78.96, 6, []int{2, 4, 6}},
	{"Br", 35, 79.904, 7, []int{1}},
	{"Kr", 36, 83.8, 8, []int{0}},
	{"Rb", 37, 85.468, 1, []int{1}},
	{"Sr", 38, 87.62, 2, []int{2, -1}},
	{"Y", 39, 88.906, 3, []int{-1}},
	{"Zr", 40, 91.224, 4, []int{-1}},
	{"Nb", 41, 92.906, 5, []int{-1}},
	{"Mo", 42, 95.94, 6, []int{-1}},
	{"Tc", 43, 98.0, 7, []int{-1}},
	{"Ru", 44, 101.07, 8, []int{-1}},
	{"Rh", 45, 102.906, 9, []int{-1}},
	{"Pd", 46, 106.42, 10, []int{-1}},
	{"Ag", 47, 107.868, 11, []int{-1}},
	{"Cd", 48, 112.412, 2, []int{-1}},
	{"In", 49, 114.818, 3, []int{3}},
	{"Sn", 50, 118.711, 4, []int{2, 4}},
	{"Sb", 51, 121.76, 5, []int{3, 5, 7}},
	{"Te", 52, 127.6, 6, []int{2, 4, 6}},
	{"I", 53, 126.904, 7, []int{1, 3, 5}},
	{"Xe", 54, 131.29, 8, []int{0, 2, 4, 6}},
	{"Cs", 55, 132.905, 1, []int{1}},
	{"Ba", 56, 137.328, 2, []int{2, -1}},
	{"La", 57, 138.906, 3, []int{-1}},
	{"Ce", 58, 140.116, 4, []int{-1}},
	{"Pr", 59, 140.908, 3, []int{-1}},
	{"Nd", 60, 144.24, 4, []int{-1}},
	{"Pm", 61, 145.0, 5, []int{-1}},
	{"Sm", 62, 150.36, 6, []int{-1}},
	{"Eu", 63, 151.964, 7, []int{-1}},
	{"Gd", 64, 157.25, 8, []int{-1}},
	{"Tb", 65, 158.925, 9, []int{-1}},
	{"Dy", 66, 162.5, 10, []int{-1}},
	{"Ho", 67, 164.93, 11, []int{-1}},
	{"Er", 68, 167.26, 12, []int{-1}},
	{"Tm", 69, 168.934, 13, []int{-1}},
	{"Yb", 70, 173.04, 14, []int{-1}},
	{"Lu", 71, 174.967, 15, []int{-1}},
	{"Hf", 72, 178.49, 4, []int{-1}},
	{"Ta", 73, 180.948, 5, []int{-1}},
	{"W", 74, 183.84, 6, []int{-1}},
	{"Re", 75, 186.207, 7, []int{-1}},
	{"Os", 76, 190.23, 8, []int{-1}},
	{"Ir", 77, 192.217, 9, []int{-1}},
	{"Pt", 78, 195.078, 10, []int{-1}},
	{"Au", 79, 196.967, 11, []int{-1}},
	{"Hg", 80, 200.59, 2, []int{-1}},
	{"Tl", 81, 204.383, 3, []int{3}},
	{"Pb", 82, 207.2, 4, []int{2, 4}},
	{"Bi", 83, 208.98, 5, []int{3, 5, 7}},
	{"Po", 84, 209.0, 6, []int{2, 4, 6}},
	{"At", 85, 210.0, 7, []int{1, 3, 5}},
	{"Rn", 86, 222.0, 8, []int{0}},
	{"Fr", 87, 223.0, 1, []int{1}},
	{"Ra", 88, 226.0, 2, []int{2, -1}},
	{"Ac", 89, 227.0, 3, []int{-1}},
	{"Th", 90, 232.038, 4, []int{-1}},
	{"Pa", 91, 231.036, 3, []int{-1}},
	{"U", 92, 238.029, 4, []int{-1}},
	{"Np", 93, 237.0, 5, []int{-1}},
	{"Pu", 94, 244.0, 6, []int{-1}},
	{"Am", 95, 243.0, 7, []int{-1}},
	{"Cm", 96, 247.0, 8, []int{-1}},
	{"Bk", 97, 247.0, 9, []int{-1}},
	{"Cf", 98, 251.0, 10, []int{-1}},
	{"Es", 99, 252.0, 11, []int{-1}},
	{"Fm", 100, 257.0, 12, []int{-1}},
	{"Md", 101, 258.0, 13, []int{-1}},
	{"No", 102, 259.0, 14, []int{-1}},
	{"Lr", 103, 262.0, 15, []int{-1}},
	{"Rf", 104, 267.0, 2, []int{-1}},
	{"Db", 105, 268.0, 2, []int{-1}},
	{"Sg", 106, 269.0, 2, []int{-1}},
	{"Bh", 107, 270.0, 2, []int{-1}},
	{"Hs", 108, 269.0, 2, []int{-1}},
	{"Mt", 109, 278.0, 2, []int{-1}},
	{"Ds", 110, 281.0, 2, []int{-1}},
	{"Rg", 111, 281.0, 2, []int{-1}},
	{"Cn", 112, 285.0, 2, []int{-1}},
	{"Nh", 113, 284.0, 2, []int{-1}},
	{"Fl", 114, 289.0, 2, []int{-1}},
	{"Mc", 115, 288.0, 2, []int{-1}},
	{"Lv", 116, 293.0, 2, []int{-1}},
	{"Ts", 117, 292.0, 2, []int{-1}},
	{"Og", 118, 294.0, 2, []int{-1}},
}

// isotopeMasses holds exact masses of the isotopes most seen in drug
// discovery inputs; other isotopes weigh their mass number.
var isotopeMasses = map[[2]int]float64{
	{1, 2}:    2.014101778,
	{1, 3}:    3.016049278,
	{6, 11}:   11.0114336,
	{6, 12}:   12.0,
	{6, 13}:   13.00335484,
	{6, 14}:   14.00324199,
	{7, 13}:   13.00573861,
	{7, 14}:   14.003074,
	{7, 15}:   15.0001089,
	{8, 15}:   15.0030656,
	{8, 16}:   15.99491462,
	{8, 17}:   16.9991317,
	{8, 18}:   17.999161,
	{9, 18}:   18.000938,
	{9, 19}:   18.99840322,
	{15, 31}:  30.97376163,
	{15, 32}:  31.97390727,
	{15, 33}:  32.9717255,
	{16, 32}:  31.972071,
	{16, 33}:  32.97145876,
	{16, 34}:  33.9678669,
	{16, 35}:  34.96903216,
	{17, 35}:  34.96885268,
	{17, 36}:  35.96830698,
	{17, 37}:  36.96590259,
	{35, 76}:  75.924541,
	{35, 79}:  78.9183371,
	{35, 81}:  80.9162906,
	{35, 82}:  81.9168041,
	{53, 123}: 122.905589,
	{53, 124}: 123.9062099,
	{53, 125}: 124.9046302,
	{53, 127}: 126.904473,
	{53, 131}: 130.9061246,
	{43, 99}:  98.9062547,
	{3, 6}:    6.015122795,
	{3, 7}:    7.01600455,
	{5, 10}:   10.012937,
	{5, 11}:   11.0093054,
}

// elementBySymbol indexes elements by symbol.
var elementBySymbol = func() map[string]*element {
	m := make(map[string]*element, len(elements))
	for i := range elements {
		m[elements[i].Symbol] = &elements[i]
	}
	return m
}()

// isEarly reports whether an element sits left of carbon's column (metals,
// boron, aluminium...), where RDKit flips the sign of the formal charge
// in its valence rules because hydrogen adds there as hydride.
func isEarly(z int) bool {
	switch {
	case z == 3 || z == 4 || z == 5:
		return true
	case z >= 11 && z <= 13:
		return true
	case z >= 19 && z <= 31:
		return true
	case z >= 37 && z <= 49:
		return true
	case z >= 55 && z <= 81:
		return true
	case z >= 87 && z <= 112:
		return true
	}
	return false
}

// defaultValence is the first allowed valence of element z, -1 if any.
func defaultValence(z int) int {
	return elements[z].Valences[0]
}

// atomMass is the mass RDKit uses for an atom: the isotope's mass when one
// is given, the average weight otherwise.
func atomMass(z, isotope int) float64 {
	if isotope == 0 {
		return elements[z].Weight
	}
	if m, ok := isotopeMasses[[2]int{z, isotope}]; ok {
		return m
	}
	return float64(isotope)
}
