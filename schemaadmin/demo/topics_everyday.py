"""Everyday topics: travel booking, cooking, programming help."""

from __future__ import annotations

from schemaadmin.demo.vocabulary import Topic

__all__ = ["EVERYDAY_TOPICS"]

TRAVEL = Topic(
    key="travel",
    brand="Skylark Travel",
    weight=1.2,
    titles=(
        "Flight to {city} rebooking",
        "Booking {booking} change",
        "Hotel in {city} for {n} nights",
        "Baggage allowance on {airline}",
        "Cancelled flight refund",
        "Seat selection for {city} trip",
        "Visa question for {city}",
    ),
    openers=(
        "My {airline} flight to {city} on {date} was cancelled. What are my options?",
        "Can I change the dates on booking {booking} without paying the fare difference?",
        "I need a hotel in {city} for {n} nights near the old town, under {amount} a night.",
        "What's the baggage allowance on {airline} for a {fare} fare?",
        "We're travelling with a baby, can we get a bassinet seat to {city}?",
        "Do I need a visa to change planes in {city}?",
        "hi the app says my booking {booking} doesn't exist??",
    ),
    user_lines=(
        "The booking reference is {booking}.",
        "We are two adults and one child.",
        "I'd prefer a morning flight if possible.",
        "Is breakfast included at that hotel?",
        "Can I get the refund as cash rather than a voucher?",
        "My connection in {city} is only {minutes} minutes, is that enough?",
        "I paid {amount} for extra legroom and didn't get it.",
        "What time does check-in close?",
    ),
    assistant_lines=(
        "Your {airline} flight to {city} on {date} was cancelled by the airline, so you can rebook for free.",
        "I found a seat on the {time} departure the next morning, arriving in {city} at midday.",
        "Date changes on a {fare} fare cost nothing, but any fare difference still applies.",
        "On {airline}, a {fare} fare includes one cabin bag of 8 kg and a personal item under the seat.",
        "The Hotel Miramar in {city} has a double room for {amount} a night with breakfast included.",
        "Booking {booking} is confirmed; the app can take up to an hour to show changes made by phone.",
        "A cancelled flight entitles you to a full refund to the original payment method within {n} days.",
        "A {minutes}-minute connection is within the airport's minimum, but only with hand luggage.",
        "Bassinet seats are limited, so I have requested one and the airline will confirm at check-in.",
        "Online check-in opens 24 hours before departure and closes {n} hours before.",
    ),
    steps=(
        "Open My trips and select booking {booking}.",
        "Choose Change flight and pick the new date.",
        "Review the fare difference, if any, before confirming.",
        "Download the new e-ticket and boarding passes.",
        "Add your passport details under Travellers.",
        "Request special assistance at least 48 hours before departure.",
    ),
    doc_titles=(
        "Changing or cancelling a flight",
        "Baggage allowances by fare",
        "Refunds for cancelled flights",
        "Travelling with children",
        "Hotel booking conditions",
        "Visas and transit rules for {city}",
    ),
    slots={
        "city": ("Lisbon", "Reykjavik", "Marrakesh", "Kyoto", "Valparaiso", "Tbilisi", "Zanzibar", "Porto"),
        "airline": ("Skylark Air", "Atlantic Blue", "NordJet", "Sol Airways", "Pacific Crest"),
        "fare": ("Light", "Classic", "Flex", "Business Saver"),
        "booking": ("K7QJ2L", "ZX4PW9", "M2RT8B", "HQ5VN3", "B9LC6D", "T3WK7Y"),
        "flight_status": ("on time", "delayed", "cancelled", "rebooked"),
    },
    tool_name="search_bookings",
    tool_fields={
        "booking": "booking",
        "airline": "airline",
        "destination": "city",
        "status": "flight_status",
    },
)

COOKING = Topic(
    key="cooking",
    brand="Pantry Pal",
    weight=0.8,
    titles=(
        "{dish} for {n} people",
        "Substitute for {ingredient}",
        "Why did my {dish} fail?",
        "Meal plan for the week",
        "Vegetarian {dish}",
        "Oven temperature conversion",
    ),
    openers=(
        "Can you give me a recipe for {dish} that serves {n}?",
        "What can I use instead of {ingredient}? I ran out.",
        "My {dish} came out dense and flat. What went wrong?",
        "I need a vegetarian version of {dish} for a dinner party on {date}.",
        "Plan five weeknight dinners under thirty minutes, no nuts please.",
        "how long do i rest a {dish} before cutting it",
    ),
    user_lines=(
        "I only have a fan oven.",
        "One guest is gluten intolerant.",
        "Can I make it the day before?",
        "How much {ingredient} is that in grams?",
        "I don't have a stand mixer.",
        "It needs to be ready by {time}.",
        "My kids don't like anything spicy.",
    ),
    assistant_lines=(
        "For {n} people, double the quantities and add ten minutes to the baking time.",
        "You can swap {ingredient} for an equal weight of Greek yoghurt in most bakes.",
        "A dense {dish} usually means the butter and sugar were not creamed long enough.",
        "Rest the {dish} for at least {minutes} minutes so the juices settle before slicing.",
        "In a fan oven, lower the temperature by 20 degrees Celsius compared with the recipe.",
        "Most of this can be made a day ahead; add the herbs just before serving.",
        "To keep it gluten free, use cornflour to thicken the sauce instead of plain flour.",
        "Toast the spices in a dry pan for a minute to bring out their flavour.",
        "Season in stages and taste as you go rather than salting everything at the end.",
    ),
    steps=(
        "Preheat the oven to 180 degrees Celsius, or 160 for a fan oven.",
        "Whisk the {ingredient} with the sugar until pale and fluffy.",
        "Fold in the flour gently so you keep the air in the batter.",
        "Brown the onions slowly over a medium heat for {minutes} minutes.",
        "Add the stock a ladle at a time, stirring between each.",
        "Bake until a skewer comes out clean, then cool on a rack.",
        "Finish with lemon zest, chopped parsley and a drizzle of olive oil.",
    ),
    doc_titles=(
        "Baking basics: why cakes sink",
        "Ingredient substitutions",
        "Cooking for allergies and intolerances",
        "Batch cooking and freezing",
        "Oven temperatures and conversions",
    ),
    slots={
        "dish": ("shakshuka", "banana bread", "mushroom risotto", "roast chicken", "lentil dal", "focaccia"),
        "ingredient": ("buttermilk", "eggs", "caster sugar", "double cream", "fresh yeast", "tahini"),
    },
)

PROGRAMMING = Topic(
    key="programming",
    brand="DevHelper",
    weight=1.4,
    titles=(
        "{error} in {language}",
        "Slow {database} query",
        "How to paginate in {framework}",
        "Unit test for {framework} view",
        "Docker build fails",
        "Regex for {thing}",
        "Async vs threads in {language}",
    ),
    openers=(
        "I keep getting {error} when I run my {language} script. Here's the traceback:",
        "This {database} query takes {n} seconds on a table with ten million rows. How can I speed it up?",
        "What's the right way to paginate a large table in {framework}?",
        "How do I write a unit test for a {framework} view that needs a logged-in user?",
        "My Docker build fails at the pip install step with a compiler error.",
        "Can you write a regex that matches {thing}?",
        "why does my {language} loop get slower the longer it runs",
    ),
    user_lines=(
        "I'm on the latest {language} release.",
        "Here's the relevant part of the code:",
        "The table has an index on created_at already.",
        "That fixed the error, but now the tests fail.",
        "Is there a way to do this without an extra dependency?",
        "It only happens in production, never locally.",
        "I tried adding an index but EXPLAIN still shows a sequential scan.",
        "What would you name this function?",
    ),
    assistant_lines=(
        "The {error} comes from the line that calls the database, so let's check what that call returns.",
        "Offset pagination gets slower with every page; keyset pagination on (created_at, id) stays fast.",
        "The planner picks a sequential scan because the statistics are stale, so run ANALYZE on the table.",
        "In {framework}, the test client's force_login skips the password hashing and keeps tests fast.",
        "The compiler error means the wheel is missing for your platform, so pip tries to build from source.",
        "A composite index on (user_id, created_at DESC) lets the query read the newest rows first.",
        "Avoid building SQL with f-strings; pass values as parameters so the driver quotes them.",
        "A loop slows down like that when it searches a growing list; a set or dict lookup is constant time.",
        "In {language} you can use a context manager so the connection is always closed.",
        "Run the query with EXPLAIN (ANALYZE, BUFFERS) and look for the node with the most time.",
    ),
    steps=(
        "Reproduce the problem with the smallest input you can.",
        "Add a composite index that matches the WHERE clause and the ORDER BY.",
        "Run ANALYZE so the planner sees the new statistics.",
        "Replace OFFSET with a WHERE clause on the last seen key.",
        "Pin the base image and install build-essential before pip install.",
        "Write a failing test first, then make it pass.",
        "Check the query plan again and compare the timings.",
    ),
    doc_titles=(
        "Keyset pagination in {framework}",
        "Reading EXPLAIN output",
        "Indexing for {database}",
        "Testing {framework} views",
        "Debugging {error}",
        "Building Docker images for {language}",
    ),
    slots={
        "language": ("Python", "TypeScript", "Go", "Rust", "Ruby", "Kotlin"),
        "framework": ("Django", "FastAPI", "Rails", "Express", "Spring Boot", "Laravel"),
        "database": ("PostgreSQL", "MySQL", "SQLite", "Redis"),
        "error": (
            "AttributeError",
            "TypeError",
            "KeyError",
            "a segmentation fault",
            "ECONNRESET",
            "a deadlock",
        ),
        "thing": ("UK postcodes", "ISO dates", "semantic versions", "hex colours", "email addresses"),
    },
    code=(
        (
            "python",
            "def recent_orders(user_id, limit=50):\n"
            "    rows = db.execute(\n"
            '        "SELECT id, total FROM orders WHERE user_id = %s ORDER BY created_at DESC LIMIT %s",\n'
            "        [user_id, limit],\n"
            "    )\n"
            "    return [Order(*row) for row in rows]",
        ),
        (
            "text",
            "Traceback (most recent call last):\n"
            '  File "app/views.py", line 42, in checkout\n'
            "    total = cart.total()\n"
            "AttributeError: 'NoneType' object has no attribute 'total'",
        ),
        (
            "sql",
            "SELECT id, created_at, title\n"
            "FROM conversations\n"
            "WHERE (created_at, id) < (%(last_created)s, %(last_id)s)\n"
            "ORDER BY created_at DESC, id DESC\n"
            "LIMIT 50;",
        ),
        ("sql", "CREATE INDEX CONCURRENTLY orders_user_created\n    ON orders (user_id, created_at DESC);"),
        (
            "typescript",
            "async function fetchPage(cursor?: string): Promise<Page> {\n"
            "  const res = await fetch(`/api/items?after=${cursor ?? ''}`);\n"
            "  if (!res.ok) throw new Error(`HTTP ${res.status}`);\n"
            "  return res.json();\n"
            "}",
        ),
        (
            "dockerfile",
            "FROM python:3.13-slim\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends build-essential\n"
            "COPY requirements.txt .\n"
            "RUN pip install --no-cache-dir -r requirements.txt",
        ),
        (
            "go",
            "for rows.Next() {\n"
            "    var o Order\n"
            "    if err := rows.Scan(&o.ID, &o.Total); err != nil {\n"
            "        return nil, err\n"
            "    }\n"
            "    orders = append(orders, o)\n"
            "}",
        ),
    ),
)

EVERYDAY_TOPICS = (TRAVEL, COOKING, PROGRAMMING)
