--
-- genie_feedback(): rating Genie's answers from SQL (extension version 1.1)
--
\! python3 test/emuctl.py reset
\set SHOW_CONTEXT never
CREATE FOREIGN TABLE fb (
  question text,
  "ProductName" text,
  conv text OPTIONS (genie 'conversation_id'),
  msg  text OPTIONS (genie 'message_id')
) SERVER genie;
CREATE TEMP TABLE answered AS
  SELECT DISTINCT conv, msg FROM fb WHERE question = 'Which products generate the highest total sales value?';
SELECT genie_feedback('genie', conv, msg, 'positive') FROM answered;
SELECT genie_feedback('genie', conv, msg, 'NEGATIVE', 'Wrong year: "2024", café ☕') FROM answered;
SELECT genie_feedback('genie', conv, msg, 'None') FROM answered;
-- what Genie received, in order
\! python3 test/emuctl.py feedback feedback.0.rating
\! python3 test/emuctl.py feedback feedback.1.rating
\! python3 test/emuctl.py feedback feedback.1.comment
\! python3 test/emuctl.py feedback feedback.2.rating
\! python3 test/emuctl.py feedback feedback.2.comment
-- the ids go into the path: another conversation is not found
SELECT genie_feedback('genie', '0123456789abcdef0123456789abcdef', msg, 'POSITIVE') FROM answered;
-- bad arguments
SELECT genie_feedback('genie', 'c', 'm', 'THUMBS_UP');
SELECT genie_feedback('genie', NULL, 'm', 'POSITIVE');
SELECT genie_feedback('genie', 'c', '', 'POSITIVE');
SELECT genie_feedback('nope', 'c', 'm', 'POSITIVE');
\! python3 test/emuctl.py stats requests.feedback
DROP FOREIGN TABLE fb;
