package dev.tollgate.metering;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What a key may do beyond spending: the environment and lane it is tagged with, the models it may call (exact names
 * and {@code prefix*} patterns; none listed means all), when it stops working, and the client networks (CIDR) it may
 * be used from (none listed means any). Immutable and validated when made, so the request path only compares.
 */
public final class KeyScope {
    public static final long NO_EXPIRY = -1;
    public static final int MAX_MODELS = 16;
    public static final int MAX_NETWORKS = 16;
    public static final int MAX_TAG_LENGTH = 32;
    public static final int MAX_MODEL_PATTERN_LENGTH = 128;
    public static final String DEFAULT_ENV = "";
    public static final String DEFAULT_LANE = "";

    /** A key that may call every model, from anywhere, for ever. */
    public static final KeyScope UNRESTRICTED = new KeyScope(DEFAULT_ENV, DEFAULT_LANE, List.of(), NO_EXPIRY, List.of(), List.of());

    private static final Pattern TAG = Pattern.compile("[a-z0-9][a-z0-9_.-]{0,31}");
    private static final Pattern MODEL_PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,126}\\*?|\\*");

    private final String env;
    private final String lane;
    private final List<String> models;
    private final long expiresAtMs;
    private final List<String> networks;
    private final List<Cidr> cidrs;

    private KeyScope(String env, String lane, List<String> models, long expiresAtMs, List<String> networks, List<Cidr> cidrs) {
        this.env = env;
        this.lane = lane;
        this.models = models;
        this.expiresAtMs = expiresAtMs;
        this.networks = networks;
        this.cidrs = cidrs;
    }

    /**
     * A validated scope; throws {@link IllegalArgumentException} naming the field at fault. {@code env} and {@code lane}
     * are lower-case tags or empty, {@code expiresAtMs} is {@link #NO_EXPIRY} or an epoch millisecond.
     */
    public static KeyScope of(String env, String lane, List<String> models, long expiresAtMs, List<String> networks) {
        tag("env", env);
        tag("lane", lane);
        Objects.requireNonNull(models, "models");
        Objects.requireNonNull(networks, "networks");
        if (models.size() > MAX_MODELS) {
            throw new IllegalArgumentException("models: at most " + MAX_MODELS + " names or patterns, found " + models.size());
        }
        for (String model : models) {
            if (model == null || !MODEL_PATTERN.matcher(model).matches()) {
                throw new IllegalArgumentException("models: '" + model + "' is not a model name or a prefix* pattern"
                        + " (letters, digits and _ . : / @ -, at most " + MAX_MODEL_PATTERN_LENGTH + " characters, * only at the end)");
            }
        }
        if (expiresAtMs < NO_EXPIRY) {
            throw new IllegalArgumentException("expires_at: before 1970");
        }
        if (networks.size() > MAX_NETWORKS) {
            throw new IllegalArgumentException("networks: at most " + MAX_NETWORKS + " CIDR blocks, found " + networks.size());
        }
        List<Cidr> cidrs = new ArrayList<>(networks.size());
        List<String> canonical = new ArrayList<>(networks.size());
        for (String network : networks) {
            Cidr cidr = Cidr.parse(network);
            cidrs.add(cidr);
            canonical.add(cidr.toString());
        }
        if (env.isEmpty() && lane.isEmpty() && models.isEmpty() && expiresAtMs == NO_EXPIRY && networks.isEmpty()) {
            return UNRESTRICTED;
        }
        return new KeyScope(env, lane, List.copyOf(models), expiresAtMs, List.copyOf(canonical), List.copyOf(cidrs));
    }

    private static void tag(String field, String value) {
        Objects.requireNonNull(value, field);
        if (!value.isEmpty() && !TAG.matcher(value).matches()) {
            throw new IllegalArgumentException(field + ": 1 to " + MAX_TAG_LENGTH
                    + " lower-case letters, digits or _ . -, starting with a letter or digit; found '" + value + "'");
        }
    }

    public String env() {
        return env;
    }

    public String lane() {
        return lane;
    }

    /** The allowed model names and patterns, as given; empty means every model. */
    public List<String> models() {
        return models;
    }

    public long expiresAtMs() {
        return expiresAtMs;
    }

    /** The allowed client networks in canonical CIDR form; empty means any. */
    public List<String> networks() {
        return networks;
    }

    /** Whether this key may call {@code model}: listed exactly, or starting with a listed pattern's prefix. */
    public boolean allowsModel(String model) {
        if (models.isEmpty()) {
            return true;
        }
        for (String allowed : models) {
            int last = allowed.length() - 1;
            if (allowed.charAt(last) == '*' ? model.startsWith(allowed.substring(0, last)) : model.equals(allowed)) {
                return true;
            }
        }
        return false;
    }

    public boolean expiredAt(long nowMs) {
        return expiresAtMs != NO_EXPIRY && nowMs >= expiresAtMs;
    }

    /** Whether a client at {@code address} may use this key (any address when no network is listed). */
    public boolean allowsAddress(InetAddress address) {
        if (cidrs.isEmpty()) {
            return true;
        }
        if (address == null) {
            return false;
        }
        byte[] bytes = address.getAddress();
        for (Cidr cidr : cidrs) {
            if (cidr.contains(bytes)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof KeyScope scope && env.equals(scope.env) && lane.equals(scope.lane) && models.equals(scope.models)
                && expiresAtMs == scope.expiresAtMs && networks.equals(scope.networks);
    }

    @Override
    public int hashCode() {
        return Objects.hash(env, lane, models, expiresAtMs, networks);
    }

    @Override
    public String toString() {
        return "KeyScope[env=" + env + ", lane=" + lane + ", models=" + models + ", expiresAtMs=" + expiresAtMs + ", networks=" + networks + "]";
    }

    /** An IPv4 or IPv6 network; an IPv4 block also matches IPv4-mapped IPv6 addresses ({@code ::ffff:a.b.c.d}). */
    record Cidr(byte[] network, int prefixBits) {
        static Cidr parse(String text) {
            if (text == null) {
                throw new IllegalArgumentException("networks: null is not a CIDR block");
            }
            int slash = text.indexOf('/');
            String host = slash < 0 ? text : text.substring(0, slash);
            if (host.indexOf('%') >= 0) {
                throw new IllegalArgumentException("networks: '" + text + "' names a zone; give a CIDR block like fe80::/10");
            }
            byte[] address;
            try {
                // A literal only: a host name would be resolved through DNS here, on an operator's request.
                address = InetAddress.ofLiteral(host).getAddress();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("networks: '" + text + "' is not a CIDR block like 10.0.0.0/8 or 2001:db8::/32");
            }
            int maxBits = address.length * 8;
            int bits;
            try {
                bits = slash < 0 ? maxBits : Integer.parseInt(text.substring(slash + 1));
            } catch (NumberFormatException e) {
                bits = -1;
            }
            if (bits < 0 || bits > maxBits) {
                throw new IllegalArgumentException("networks: '" + text + "' needs a prefix length from 0 to " + maxBits);
            }
            for (int bit = bits; bit < maxBits; bit++) {
                address[bit / 8] &= (byte) ~(0x80 >>> (bit % 8)); // the host bits, so 10.1.2.3/8 means 10.0.0.0/8
            }
            return new Cidr(address, bits);
        }

        boolean contains(byte[] address) {
            if (address.length == 16 && network.length == 4 && isIpv4Mapped(address)) {
                address = java.util.Arrays.copyOfRange(address, 12, 16);
            }
            if (address.length != network.length) {
                return false;
            }
            int whole = prefixBits / 8;
            for (int i = 0; i < whole; i++) {
                if (address[i] != network[i]) {
                    return false;
                }
            }
            int rest = prefixBits % 8;
            if (rest == 0) {
                return true;
            }
            int mask = (0xFF << (8 - rest)) & 0xFF;
            return (address[whole] & mask) == (network[whole] & mask);
        }

        private static boolean isIpv4Mapped(byte[] address) {
            for (int i = 0; i < 10; i++) {
                if (address[i] != 0) {
                    return false;
                }
            }
            return address[10] == (byte) 0xFF && address[11] == (byte) 0xFF;
        }

        @Override
        public String toString() {
            try {
                String host = InetAddress.getByAddress(network).getHostAddress();
                return host + "/" + prefixBits;
            } catch (UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
