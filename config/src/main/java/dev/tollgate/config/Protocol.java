package dev.tollgate.config;

import java.util.Locale;

/** The wire protocol an upstream provider speaks, which is also the surface a client uses to reach it. */
public enum Protocol {
    OPENAI,
    ANTHROPIC;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    static Protocol parse(String text, Class<Protocol> type) {
        for (Protocol protocol : values()) {
            if (protocol.wireName().equals(text)) {
                return protocol;
            }
        }
        return null;
    }
}
