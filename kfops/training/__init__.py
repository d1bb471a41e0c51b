"""Building, fitting and evaluating the model pipeline that serving later loads as one object."""
