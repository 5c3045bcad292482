package dev.tollgate.config;

/**
 * A credential read from the environment. {@link #toString()} never shows it, so a secret that
 * slips into a log line or an exception message stays hidden; only {@link #reveal()} gives it out.
 */
public final class Secret {
    private final String value;

    public Secret(String value) {
        this.value = value;
    }

    public String reveal() {
        return value;
    }

    @Override
    public String toString() {
        return "Secret[hidden]";
    }
}
