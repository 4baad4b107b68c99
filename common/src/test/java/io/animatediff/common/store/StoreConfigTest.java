package io.animatediff.common.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class StoreConfigTest {
    static final Map<String, String> ENV = Map.of(
            "ANIMATEDIFF_S3_ENDPOINT", "http://minio:9000",
            "ANIMATEDIFF_S3_ACCESS_KEY", "env-access",
            "ANIMATEDIFF_S3_SECRET_KEY", "env-secret");

    @Test
    void readsEnvironmentWithDefaults() {
        StoreConfig c = StoreConfig.from(k -> null, ENV::get);
        assertEquals(new StoreConfig("http://minio:9000", "env-access", "env-secret", "animatediff", "us-east-1"), c);
    }

    @Test
    void systemPropertiesOverrideEnvironment() {
        Map<String, String> props = Map.of(
                "animatediff.s3.endpoint", "https://s3.example.com",
                "animatediff.s3.bucket", "fleet-prod",
                "animatediff.s3.region", "eu-west-1");
        StoreConfig c = StoreConfig.from(props::get, ENV::get);
        assertEquals("https://s3.example.com", c.endpoint());
        assertEquals("fleet-prod", c.bucket());
        assertEquals("eu-west-1", c.region());
        assertEquals("env-access", c.accessKey());
        assertEquals("animatediff.s3.access-key", StoreConfig.propertyName("ANIMATEDIFF_S3_ACCESS_KEY"));
    }

    @Test
    void missingOrBadValuesNameTheVariable() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> StoreConfig.from(k -> null, k -> null));
        assertTrue(e.getMessage().contains("ANIMATEDIFF_S3_ENDPOINT"), e.getMessage());
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> new StoreConfig("minio:9000", "a", "b", "bucket", "us-east-1"))
                .getMessage()
                .contains("http"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> new StoreConfig("http://m:9000", "a", "b", "Bad_Bucket", "us-east-1"))
                .getMessage()
                .contains("ANIMATEDIFF_S3_BUCKET"));
    }

    @Test
    void toStringHidesTheSecret() {
        String s = StoreConfig.from(k -> null, ENV::get).toString();
        assertFalse(s.contains("env-secret"), s);
        assertTrue(s.contains("env-access"), s);
    }
}
