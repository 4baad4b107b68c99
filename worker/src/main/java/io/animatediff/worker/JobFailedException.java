package io.animatediff.worker;

import io.animatediff.common.protocol.Failure;
import io.animatediff.common.protocol.FailureCode;

/** A job cannot finish: carries the code and the reason the FAILED event (and the DLQ header) report. */
public final class JobFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final FailureCode code;

    public JobFailedException(FailureCode code, String reason, Throwable cause) {
        super(reason, cause);
        this.code = code;
    }

    public FailureCode code() {
        return code;
    }

    /** The failure as the protocol carries it. */
    public Failure failure() {
        return new Failure(code, getMessage());
    }
}
