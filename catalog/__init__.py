"""The catalog: every farmer's products, prices, promotions, stock, photos and their history."""
