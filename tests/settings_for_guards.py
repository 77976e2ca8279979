"""A Python module a test function reads its model and Variable through (``import
settings_for_guards`` then ``settings_for_guards.model(x)``): test_function_unwalked_guards.py
sets them."""

#: the model the function calls
model = None
#: the Variable the function multiplies by
weights = None
