package dev.tollgate.config;

import java.util.List;

/**
 * An account opened at start-up with an opening credit, and the keys that spend from it.
 * Keys appear only as SHA-256 hashes: the raw key is shown once, when {@code tollgate new-key} makes it.
 */
public record AccountConfig(String id, long openingCreditMicros, List<KeyConfig> keys) {

    public AccountConfig {
        keys = List.copyOf(keys);
    }

    /**
     * @param sha256Hex lower-case hex SHA-256 of the raw key; @param label a non-secret name for reports
     * @param lane      the lane its requests run in, or null for the first lane declared
     * @param lanes     the other lanes it may pick with an {@code x-tollgate-lane} header (its own is always allowed)
     */
    public record KeyConfig(String sha256Hex, String label, String lane, List<String> lanes) {
        public KeyConfig {
            lanes = List.copyOf(lanes);
        }

        /** A key in the first lane, picking no other. */
        public KeyConfig(String sha256Hex, String label) {
            this(sha256Hex, label, null, List.of());
        }
    }
}
