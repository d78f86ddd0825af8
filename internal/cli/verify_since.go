package cli

import (
	"errors"
	"fmt"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// sinceCheckpointError says why the checkpoint given to --since-checkpoint
// cannot be used, and what to do about it.
func sinceCheckpointError(err error) error {
	if errors.Is(err, integrity.ErrCheckpointSignature) {
		return fmt.Errorf("could not verify: --since-checkpoint: the kept checkpoint is not signed by the ledger's key "+
			"(another ledger's checkpoint, or a key not given: repeat --key with the key that signed it): %w", err)
	}
	return fmt.Errorf("could not verify: --since-checkpoint: the kept checkpoint cannot be read: %w", err)
}
