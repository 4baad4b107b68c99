package io.animatediff.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ApiKeysTest {
    // printf %s test-key | sha256sum
    static final String HASH = "62af8704764faf8ea82fc61ce9c4c3908b6cb97d463a634e9e587d7c885db0ef";

    @Test
    void acceptsOnlyBearerKeysWhoseHashIsConfigured() {
        ApiKeys keys = new ApiKeys(List.of(" " + HASH.toUpperCase() + " ", ""));
        assertEquals(HASH, ApiKeys.hash("test-key"));
        assertEquals(Optional.of(HASH), keys.authenticate("Bearer test-key"));
        assertEquals(Optional.of(HASH), keys.authenticate("bearer test-key"));
        assertTrue(keys.authenticate("Bearer other").isEmpty());
        assertTrue(keys.authenticate("Basic test-key").isEmpty());
        assertTrue(keys.authenticate("Bearer ").isEmpty());
        assertTrue(keys.authenticate(null).isEmpty());
    }

    @Test
    void aMalformedHashIsRefusedWithoutEchoingAKey() {
        var e = assertThrows(IllegalArgumentException.class, () -> new ApiKeys(List.of("test-key")));
        assertTrue(e.getMessage().contains("ANIMATEDIFF_API_KEY_HASHES"), e.getMessage());
    }
}
