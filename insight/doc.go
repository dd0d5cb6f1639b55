// Package insight turns the conversion history of a score model into
// evidence about the model: the conversion report (rates per band and score
// decile with Wilson intervals, days to conversion, rule lift, AUC) and
// suggested points fitted by a regularised logistic regression.
//
// It is pure: no I/O, no clock (the caller passes now), no SQL; the store
// loads the history and the API serves the results.
package insight
