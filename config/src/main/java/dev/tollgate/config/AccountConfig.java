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

    /** @param sha256Hex lower-case hex SHA-256 of the raw key; @param label a non-secret name for reports */
    public record KeyConfig(String sha256Hex, String label) {
    }
}
