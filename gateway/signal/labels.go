package signal

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// labelErrors are validate's findings on label's value, as field errors.
func labelErrors(label, value string, validate func(string) []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validate(value) {
		errs = append(errs, field.Invalid(field.NewPath("labels").Key(label), value, msg))
	}
	return errs
}

// invalid is errs as an ErrInvalid; nil when there are none.
func invalid(errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errs.ToAggregate())
}
