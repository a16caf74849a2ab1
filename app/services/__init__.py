"""Credit decisions: each public function is one transaction under the account's row lock."""
