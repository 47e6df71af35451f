package v4

import "github.com/openpsp/openpsp/internal/errs"

// sdkTest echoes {"value": …}: Charge/SDKTest, the call SDKs use to check
// their configuration.
func sdkTest(c *Call) (any, error) {
	var in struct {
		Value *string `json:"value"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.Value == nil {
		return nil, errs.Invalid(errs.InputInvalid, "web-service input data validation error", "value", "null")
	}
	return struct {
		Value string `json:"value"`
		Type  string `json:"_type"`
	}{*in.Value, "V4/Type/String"}, nil
}
