package dev.tollgate.proxy;

/** Shows integer micro-units as an amount for people: {@code 1234567} micro-USD is {@code $1.234567}. */
public final class Money {
    private Money() {
    }

    public static String format(long micros, String currency) {
        String sign = micros < 0 ? "-" : "";
        long magnitude = Math.abs(micros);
        String amount = (magnitude / 1_000_000) + "." + String.format("%06d", magnitude % 1_000_000);
        return "USD".equals(currency) ? sign + "$" + amount : sign + amount + " " + currency;
    }
}
