"""Discrete signals of the cabin server (CPLD and GPIO lines), read and driven through gpiozero."""
