package flows

// DefaultConversionEvent is the event type that converts a contact in a
// score model that names none.
const DefaultConversionEvent = "deal_won"

// ConversionOf returns the model's conversion: its own, or a deal_won event
// with the value in its "amount" property.
func ConversionOf(m *ScoreModel) Conversion {
	if m != nil && m.Conversion != nil {
		return *m.Conversion
	}
	return Conversion{Event: DefaultConversionEvent, ValueProperty: "amount"}
}

// Converts reports whether ev converts a contact under c: an event of c's
// type from the log (not one the engine derived), or, for a stage
// conversion, the field_changed the engine raises when the stage is set to
// c's stage.
func (c Conversion) Converts(ev Event, derived bool) bool {
	if c.Stage != "" {
		to, _ := ev.Properties["to"].(string)
		return derived && ev.Type == TriggerFieldChanged && ev.Properties["field"] == "stage" && to == c.Stage
	}
	return !derived && ev.Type == c.Event
}

// Value is the value ev carries for a conversion: the number in its value
// property, or nil when there is none.
func (c Conversion) Value(ev Event) *float64 {
	if c.ValueProperty == "" {
		return nil
	}
	switch v := ev.Properties[c.ValueProperty].(type) {
	case float64:
		return &v
	case int:
		f := float64(v)
		return &f
	case int64:
		f := float64(v)
		return &f
	}
	return nil
}
