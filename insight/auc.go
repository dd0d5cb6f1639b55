package insight

import "sort"

// AUC is the area under the ROC curve of scores ranking the positives
// (converted) above the negatives: the Mann–Whitney U statistic divided by
// positives × negatives, ties counting one half (mid-ranks). 0.5 is a
// random ranking, 1 a perfect one. False when either class is empty.
func AUC(scores []float64, positive []bool) (float64, bool) {
	n := len(scores)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var rankSum float64
	var pos int
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // ranks i+1 … j, averaged
		for k := i; k < j; k++ {
			if positive[idx[k]] {
				rankSum += mid
				pos++
			}
		}
		i = j
	}
	neg := n - pos
	if pos == 0 || neg == 0 {
		return 0, false
	}
	u := rankSum - float64(pos)*float64(pos+1)/2
	return u / (float64(pos) * float64(neg)), true
}
