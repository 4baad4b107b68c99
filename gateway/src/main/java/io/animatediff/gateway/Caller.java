package io.animatediff.gateway;

import jakarta.enterprise.context.RequestScoped;

/** The authenticated caller of the current request, set by {@link AuthFilter}. */
@RequestScoped
public class Caller {
    private String keyHash;

    /** sha256 hex of the caller's API key. */
    public String keyHash() {
        if (keyHash == null) {
            throw new IllegalStateException("no authenticated caller: the auth filter did not run");
        }
        return keyHash;
    }

    void set(String hash) {
        this.keyHash = hash;
    }
}
