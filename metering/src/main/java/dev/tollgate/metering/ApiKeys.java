package dev.tollgate.metering;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Tollgate keys clients present, stored only as SHA-256 hashes: a raw key exists once, when
 * {@link #newRawKey} makes it for the person who will use it, and never again on this side.
 */
public final class ApiKeys {
    public static final String KEY_PREFIX = "tg-";
    private static final int KEY_RANDOM_BYTES = 32;
    /** Longer presented keys are refused before hashing, so a hostile header cannot make us hash megabytes. */
    public static final int MAX_KEY_LENGTH = 256;
    /** What {@link #displayPrefix} shows of a key: its first code points, then an ellipsis. */
    private static final int SHOWN_CODE_POINTS = 7;
    private static final String ELLIPSIS = "...";
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(ApiKeys::sha256Digest);

    private final Map<String, ApiKey> byHash = new ConcurrentHashMap<>();

    public void add(ApiKey key) {
        if (byHash.putIfAbsent(key.sha256Hex(), key) != null) {
            throw new IllegalArgumentException("key already registered: " + key.label());
        }
    }

    /** Stops a key from working; returns false if it was not registered. */
    public boolean remove(String sha256Hex) {
        return byHash.remove(sha256Hex) != null;
    }

    /** The hashes of every registered key. */
    public java.util.List<String> hashes() {
        return java.util.List.copyOf(byHash.keySet());
    }

    public boolean contains(String sha256Hex) {
        return byHash.containsKey(sha256Hex);
    }

    /** The key a client presented, or null if it is unknown (or absurdly long). */
    public ApiKey lookup(String presentedKey) {
        if (presentedKey == null || presentedKey.isEmpty() || presentedKey.length() > MAX_KEY_LENGTH) {
            return null;
        }
        return byHash.get(sha256Hex(presentedKey));
    }

    /** A new random key: {@code tg-} and 43 URL-safe characters (256 bits). */
    public static String newRawKey(SecureRandom random) {
        byte[] bytes = new byte[KEY_RANDOM_BYTES];
        random.nextBytes(bytes);
        return KEY_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    public static String sha256Hex(String rawKey) {
        MessageDigest digest = SHA256.get();
        digest.reset();
        return HexFormat.of().formatHex(digest.digest(rawKey.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * What may be shown of a key in logs and reports: its first seven characters, never enough to use it. Counted in
     * code points so a presented key never shows half a character, and anything but visible ASCII (which every issued
     * key is) shown as {@code ?} so a hostile header cannot put control bytes into a log line. A key of ten code
     * points or fewer shows nothing: its seven and the {@code ...} would otherwise spell the whole of a key that
     * ends in dots.
     */
    public static String displayPrefix(String rawKey) {
        if (rawKey.codePointCount(0, rawKey.length()) <= SHOWN_CODE_POINTS + ELLIPSIS.length()) {
            return "***";
        }
        StringBuilder shown = new StringBuilder(SHOWN_CODE_POINTS + ELLIPSIS.length());
        rawKey.codePoints().limit(SHOWN_CODE_POINTS).forEach(c -> shown.append(c > ' ' && c < 0x7F ? (char) c : '?'));
        return shown.append(ELLIPSIS).toString();
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /**
     * A registered key: its hash, a non-secret label, the account it spends from, and its slot in the ledger's
     * {@link SpendWindows} ({@code -1} for a key without spend caps).
     */
    public record ApiKey(String sha256Hex, String label, String accountId, int accountSlot, int spendSlot) {
        public ApiKey(String sha256Hex, String label, String accountId, int accountSlot) {
            this(sha256Hex, label, accountId, accountSlot, -1);
        }
    }

    /** The registered key with this hash, or null. */
    public ApiKey lookupByHash(String sha256Hex) {
        return byHash.get(sha256Hex);
    }

    /** Replaces a registered key (its caps changed); false if it is not registered. */
    public boolean replace(ApiKey key) {
        return byHash.replace(key.sha256Hex(), key) != null;
    }
}
