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

// ConversionValue is the value an event carries for a conversion: the
// number in its value property, or nil when there is none.
func ConversionValue(c Conversion, props map[string]any) *float64 {
	if c.ValueProperty == "" {
		return nil
	}
	switch v := props[c.ValueProperty].(type) {
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
