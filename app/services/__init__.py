"""Operations: every write, acting user first, in one transaction; and the rules they share."""
