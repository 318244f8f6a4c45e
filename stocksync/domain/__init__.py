"""The pure core: values in, values out. Imports nothing but the standard library."""
