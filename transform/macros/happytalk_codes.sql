{#-
  HappyTalk's codes and what they mean, in English and in Korean, as the tap's schema describes
  them (tap_happytalk/streams.py SCHEMA, tap_happytalk/chats.py ROOM_SCHEMA and MESSAGE_SCHEMA).
  Korean labels HappyTalk does not give (channel 0 and 7, phone_os, contents_type) are ours.
  The sources' accepted_values tests list the same codes.
-#}
{% macro happytalk_codes() %}
  {{ return({
    'service_type': [
      ('M', 'manual', '수동'),
      ('A', 'automatic', '자동'),
    ],
    'service_kind': [
      ('A', 'archive', '아카이브'),
      ('K', 'key issued', '키 발급'),
      ('S', 'manager action', '매니저 액션'),
    ],
    'room_status': [
      ('-2', 'waiting for an agent', '상담원 대기'),
      ('-1', 'chatbot in progress', '챗봇 상담 중'),
      ('0', 'waiting for intake', '접수 대기'),
      ('1', 'in progress', '상담 중'),
      ('2', 'done', '상담 완료'),
      ('3', 'deleted', '삭제'),
      ('4', 'chatbot ended', '챗봇 종료'),
    ],
    'channel': [
      ('0', 'HappyTalk', '해피톡'),
      ('1', 'Naver TalkTalk', '네이버 톡톡'),
      ('2', 'KakaoTalk', '카카오톡'),
      ('7', 'Instagram', '인스타그램'),
    ],
    'phone_os': [
      ('A', 'Android', '안드로이드'),
      ('I', 'iPhone', '아이폰'),
      ('W', 'web', '웹'),
    ],
    'message_type': [
      ('C', 'message', '메시지'),
      ('M', 'memo', '메모'),
    ],
    'user_type': [
      ('C', 'customer', '고객'),
      ('H', 'agent', '상담원'),
      ('B', 'bot', '봇'),
    ],
    'contents_type': [
      ('text', 'text', '텍스트'),
      ('image', 'image', '이미지'),
      ('nomal', 'image button', '이미지 버튼'),
      ('template', 'template', '템플릿'),
    ],
  }) }}
{% endmacro %}


{#-
  happytalk_label(code, kind, language): a CASE turning the code (an expression) into its label,
  'en' or 'ko'; null for a null code, 'unknown' / '알 수 없음' for a code not listed above.
-#}
{% macro happytalk_label(code, kind, language='en') -%}
  {%- set position = 1 if language == 'en' else 2 -%}
  case
    when {{ code }} is null then null
  {%- for entry in happytalk_codes()[kind] %}
    when {{ code }} = '{{ entry[0] }}' then '{{ entry[position] }}'
  {%- endfor %}
    else {{ "'unknown'" if language == 'en' else "'알 수 없음'" }}
  end
{%- endmacro %}
