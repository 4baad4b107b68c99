package io.animatediff.gateway;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HMAC-SHA256 signatures of webhook deliveries: {@code Webhook-Signature: v1=<hex>} over {@code
 * <Webhook-Id>.<Webhook-Timestamp>.<body>}, so a receiver checks origin, integrity and freshness
 * (reject timestamps older than a few minutes) and deduplicates on the id.
 */
public final class WebhookSigner {
    public static final String ID_HEADER = "Webhook-Id";
    public static final String TIMESTAMP_HEADER = "Webhook-Timestamp";
    public static final String SIGNATURE_HEADER = "Webhook-Signature";

    private final byte[] key;

    public WebhookSigner(String secret) {
        this.key = secret.getBytes(StandardCharsets.UTF_8);
    }

    /** {@code v1=<hex hmac>}. */
    public String sign(String id, long timestampSeconds, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update((id + "." + timestampSeconds + ".").getBytes(StandardCharsets.UTF_8));
            return "v1=" + HexFormat.of().formatHex(mac.doFinal(body));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable in this JVM", e);
        }
    }

    /** Constant-time check of a received signature. */
    public boolean verify(String id, long timestampSeconds, byte[] body, String signature) {
        return signature != null
                && MessageDigest.isEqual(
                        sign(id, timestampSeconds, body).getBytes(StandardCharsets.UTF_8),
                        signature.getBytes(StandardCharsets.UTF_8));
    }
}
