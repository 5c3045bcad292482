package dev.tollgate.proxy.admin;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The admin listener's bearer tokens, from the environment only: {@code TOLLGATE_ADMIN_TOKENS} holds
 * {@code label:role:secret} entries separated by commas (role {@code read} or {@code write}), and
 * {@code TOLLGATE_ADMIN_TOKEN} one secret with the label {@code admin} and role {@code write}. Only the
 * SHA-256 of each secret is kept, and a presented token is compared with every one in constant time,
 * so neither the match nor its position shows in the time taken. The label, never the secret, is what the
 * journal records as the author of a change.
 */
public final class AdminTokens {
    public static final String TOKENS_ENV = "TOLLGATE_ADMIN_TOKENS";
    public static final String TOKEN_ENV = "TOLLGATE_ADMIN_TOKEN";
    public static final int MIN_SECRET_LENGTH = 16;

    public enum Role {
        READ, WRITE
    }

    /** Who a presented token is: its label and role. */
    public record Token(String label, Role role) {
        public boolean mayWrite() {
            return role == Role.WRITE;
        }
    }

    private record Entry(Token token, byte[] secretHash) {
    }

    private static final Token NOBODY = new Token("", Role.READ);
    private final List<Entry> entries;

    private AdminTokens(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    public static AdminTokens none() {
        return new AdminTokens(List.of());
    }

    /** The tokens the environment names; a malformed entry is an error naming its position, never its secret. */
    public static AdminTokens fromEnvironment(Function<String, String> environment) {
        List<Entry> entries = new ArrayList<>();
        String many = environment.apply(TOKENS_ENV);
        if (many != null && !many.isBlank()) {
            String[] parts = many.split(",");
            for (int i = 0; i < parts.length; i++) {
                String[] fields = parts[i].trim().split(":", 3);
                if (fields.length != 3 || !fields[0].matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")) {
                    throw new IllegalArgumentException(TOKENS_ENV + ": entry " + (i + 1) + " is not label:role:secret (label of letters, digits, _ . -)");
                }
                Role role = switch (fields[1]) {
                    case "read" -> Role.READ;
                    case "write" -> Role.WRITE;
                    default -> throw new IllegalArgumentException(TOKENS_ENV + ": entry " + (i + 1) + " (" + fields[0] + ") has role \""
                            + fields[1] + "\"; use read or write");
                };
                entries.add(entry(fields[0], role, fields[2], TOKENS_ENV + " entry " + (i + 1) + " (" + fields[0] + ")"));
            }
        }
        String one = environment.apply(TOKEN_ENV);
        if (one != null && !one.isBlank()) {
            entries.add(entry("admin", Role.WRITE, one.trim(), TOKEN_ENV));
        }
        return new AdminTokens(entries);
    }

    /** One token, for the demo and tests. */
    public static AdminTokens of(String label, Role role, String secret) {
        return new AdminTokens(List.of(entry(label, role, secret, label)));
    }

    private static Entry entry(String label, Role role, String secret, String where) {
        if (secret.length() < MIN_SECRET_LENGTH) {
            throw new IllegalArgumentException(where + ": an admin token is at least " + MIN_SECRET_LENGTH + " characters");
        }
        return new Entry(new Token(label, role), sha256(secret));
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    /** The token {@code presented} is, or null. Looks at every entry whatever matches. */
    public Token match(String presented) {
        if (presented == null) {
            return null;
        }
        byte[] hash = sha256(presented);
        Token found = NOBODY;
        boolean any = false;
        for (Entry entry : entries) {
            boolean equal = MessageDigest.isEqual(hash, entry.secretHash());
            found = equal ? entry.token() : found;
            any |= equal;
        }
        return any ? found : null;
    }

    private static byte[] sha256(String value) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
